"""Rasterises one face: identity + expression + scene -> image and its ground truth.

Layers (all uint8 so OpenCV anti-aliases them, see features.Canvas): `person` holds albedo
premultiplied by its coverage `alpha`; `dark` and `light` collect shading strokes (creases,
wrinkles, shadows, highlights), blurred once and applied multiplicatively together with a
Lambertian head-ellipsoid term. The person is then composited over the background, and gain,
blur and noise applied.
"""

from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

from ferjax.ibug68 import GROUPS
from ferjax.synth import draw, features
from ferjax.synth.backgrounds import render_background
from ferjax.synth.config import SynthConfig
from ferjax.synth.cues import au_strokes
from ferjax.synth.expression import Expression
from ferjax.synth.face_model import Projection, au_displacements, deform, neutral_shape
from ferjax.synth.geometry import Geometry, body_geometry, face_geometry
from ferjax.synth.identity import Identity
from ferjax.synth.occluders import draw_glasses, fringe_outline
from ferjax.synth.regions import au_region_map
from ferjax.synth.scene import GLASSES_NONE, Scene

_DARK_STRENGTH = 0.75   # a dark value of 255 removes this fraction of the light
_LIGHT_STRENGTH = 0.45  # a light value of 255 adds this fraction
_DILATE = np.ones((3, 3), np.uint8)


@dataclasses.dataclass(frozen=True)
class Rendered:
    """Rendered pixels and geometry of one example."""

    image: np.ndarray       # uint8 (H, W, C)
    mask: np.ndarray        # uint8 (H, W, 1), 255 = face
    landmarks: np.ndarray   # float32 (68, 2), (x, y) pixels
    au_regions: np.ndarray  # uint16 (ceil(H/4), ceil(W/4))
    face: np.ndarray | None  # uint8 (H, W, C), the face alone on black (composite only)


@functools.lru_cache(maxsize=16)
def _gaussian_kernel(sigma_sixteenths: int) -> np.ndarray:
    sigma = sigma_sixteenths / 16.0
    return cv2.getGaussianKernel(2 * int(np.ceil(3 * sigma)) + 1, sigma).astype(np.float32)


def _blur_to_float(layer: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a uint8 layer straight into float32 (one separable pass)."""
    k = _gaussian_kernel(max(1, int(round(sigma * 16))))
    return cv2.sepFilter2D(layer, cv2.CV_32F, k, k)


_SHADING_STEP = 4  # shading is smooth: evaluate it on a 4x coarser grid and upsample


def _shading(h: int, w: int, proj: Projection, idn: Identity, scene: Scene,
             centre: np.ndarray) -> np.ndarray:
    """Lambertian shading of a head-sized ellipsoid seen by the camera, float32 (H, W)."""
    step = _SHADING_STEP
    gh, gw = -(-h // step), -(-w // step)
    angle = np.radians(proj.roll_deg)
    rx, ry = 1.15 * idn.face_width * proj.scale, 1.5 * proj.scale
    offset = (step - 1) / 2.0
    ys = ((np.arange(gh, dtype=np.float32) * step + offset - centre[1]) / ry)[:, None]
    xs = ((np.arange(gw, dtype=np.float32) * step + offset - centre[0]) / rx)[None, :]
    ca, sa = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    u = xs * ca + ys * (sa * ry / rx)
    v = ys * ca - xs * (sa * rx / ry)
    r2 = u * u + v * v
    nz = np.sqrt(np.maximum(1.0 - r2, 0.0))
    inv = 1.0 / np.sqrt(np.maximum(r2, 1.0))
    lx, ly, lz = scene.light.astype(np.float32)
    # light direction in the head's own image frame (so roll turns the shading with the head)
    lu, lv = lx * ca + ly * sa, ly * ca - lx * sa
    diffuse = np.clip((u * lu + v * lv) * inv + nz * lz, 0.0, 1.0)
    amb = np.float32(scene.ambient)
    coarse = (amb + (1 - amb) * diffuse) / np.float32(amb + (1 - amb) * 0.92)
    full = cv2.resize(coarse, (gw * step, gh * step), interpolation=cv2.INTER_LINEAR)
    return full[:h, :w]


def _sensor_noise(rng: np.random.Generator, shape, std: float) -> np.ndarray:
    """Zero-mean noise of the given std: a sum of two uniform bytes (triangular, close to
    Gaussian) because drawing Gaussian floats costs more than the rest of the image."""
    n = int(np.prod(shape))
    pair = np.frombuffer(rng.bytes(2 * n), np.uint8).reshape(2, *shape)
    total = pair[0].astype(np.float32)
    total += pair[1]
    total -= 255.0
    total *= np.float32(std / 104.5)
    return total


def render(config: SynthConfig, idn: Identity, expression: Expression, scene: Scene,
           rng: np.random.Generator, neutral: np.ndarray | None = None) -> Rendered:
    """Renders one example; `rng` drives the fringe, glasses colour, background and noise.

    neutral: the subject's neutral shape if already computed (else derived from `idn`).
    """
    h, w = config.image_size
    c = config.channels
    proj = scene.projection
    unit = proj.scale
    if neutral is None:
        neutral = neutral_shape(idn)
    motion = au_displacements(expression.right, expression.left)
    shape = deform(neutral, motion)
    strokes = au_strokes(shape, expression)

    geo = Geometry(idn)
    body_geometry(geo, idn)
    face_geometry(geo, idn, shape)
    for i, (stroke, _) in enumerate(strokes):
        geo.lift(f"stroke{i}", stroke.points, 0.02 + stroke.dz)
    if scene.fringe:
        geo.add("fringe", fringe_outline(idn, shape, rng))
    px = geo.project(proj)
    lm = px["lm"]

    cv = features.Canvas(h, w, c)
    features.draw_body_and_back_hair(cv, idn, px, proj)
    features.draw_ears(cv, idn, px, proj, in_front=False)
    skin = draw.hull(np.concatenate([lm, px["contour"]]))
    cv.solid(skin, idn.skin_rgb)
    features.draw_ears(cv, idn, px, proj, in_front=True)
    eyes = ((36, (-0.3, 0.0, 1.0), 3), (42, (0.3, 0.0, 1.0), 0))
    for start, normal, inner in sorted(eyes, key=lambda e: features.facing(proj, e[1])):
        features.draw_eye(cv, idn, proj, lm[start:start + 6], features.facing(proj, normal), inner)
    for brow, taper, normal in ((lm[17:22], features.BROW_TAPER, (-0.35, -0.2, 1.0)),
                                (lm[22:27], features.BROW_TAPER[::-1], (0.35, -0.2, 1.0))):
        features.draw_brow(cv, idn, proj, brow, taper, features.facing(proj, normal))
    features.draw_nose(cv, idn, proj, px, scene)
    features.draw_mouth(cv, idn, proj, px)
    features.draw_cues(cv, proj, strokes, px)
    for s in ("-1", "+1"):
        if f"hairline{s}" in px:
            cv.solid(np.concatenate([px[f"hairline{s}"], px[f"haircap{s}"]]), idn.hair_rgb)
    if scene.fringe:
        cv.solid(px["fringe"], idn.hair_rgb * 0.95)
    if scene.glasses != GLASSES_NONE:
        draw_glasses(cv.person, cv.alpha, lm, proj, scene.glasses, rng.uniform(0, 120, 3), c)

    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [draw.fixed(skin)], (255,), cv2.LINE_8, draw.SHIFT)
    mask = cv2.dilate(mask, _DILATE)

    factor = _shading(h, w, proj, idn, scene, px["shade_centre"][0])
    factor *= 1.0 - (_DARK_STRENGTH / 255.0) * _blur_to_float(cv.dark, max(0.4, 0.012 * unit))
    factor *= 1.0 + (_LIGHT_STRENGTH / 255.0) * _blur_to_float(cv.light, max(0.6, 0.04 * unit))
    person = cv.person.astype(np.float32) * factor[..., None]

    background = render_background(rng, scene.background, (h, w, c)).astype(np.float32)
    face = None
    if config.composite:
        soft = np.zeros((h, w), np.uint8)
        draw.fill(soft, skin, 255)
        coverage = soft.astype(np.float32)[..., None] * np.float32(1 / 255)
        person *= coverage
        face = np.clip(person * np.float32(scene.gain) + 0.5, 0, 255).astype(np.uint8)
    else:
        coverage = cv.alpha.astype(np.float32)[..., None] * np.float32(1 / 255)
    background *= 1.0 - coverage
    background += person
    image = background
    image *= np.float32(scene.gain)
    if scene.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), scene.blur_sigma).reshape(h, w, c)
    if scene.noise_std > 0:
        image += _sensor_noise(rng, (h, w, c), scene.noise_std)
    image += 0.5
    image = np.clip(image, 0, 255).astype(np.uint8)
    projected = [px[f"stroke{i}"] for i in range(len(strokes))]
    regions = au_region_map(config.region_shape, proj, shape, motion, expression, strokes,
                            projected, GROUPS)
    return Rendered(image=image, mask=mask[..., None], landmarks=lm.astype(np.float32),
                    au_regions=regions, face=face)
