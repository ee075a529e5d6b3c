"""Rasterises one face: identity + expression + scene -> image and pixel-exact ground truth.

Layers (all uint8 so OpenCV anti-aliases them): `person` holds albedo premultiplied by its
coverage `alpha`; `dark` and `light` collect shading strokes (creases, wrinkles, shadows,
highlights), blurred once and applied multiplicatively together with a Lambertian head-sphere
term. The person is then composited over the background, and gain, blur and noise applied.
"""

from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

from ferjax.synth import draw
from ferjax.synth.backgrounds import render_background
from ferjax.synth.config import SynthConfig
from ferjax.synth.cues import Stroke, au_strokes
from ferjax.synth.expression import Expression
from ferjax.synth.face_model import (GROUPS, HEAD_CENTRE, Projection, au_displacements,
                                     contour_points, deform, lift,
                                     neutral_shape)
from ferjax.synth.identity import Identity
from ferjax.synth.occluders import draw_glasses, fringe_outline
from ferjax.synth.regions import au_region_map
from ferjax.synth.scene import GLASSES_NONE, Scene

_SCLERA = np.array([232.0, 228.0, 224.0])
_TEETH = np.array([205.0, 200.0, 185.0])
_MOUTH = np.array([52.0, 20.0, 24.0])
_PUPIL = np.array([14.0, 12.0, 12.0])
_DARK_STRENGTH = 0.75   # a dark value of 255 removes this fraction of the light
_LIGHT_STRENGTH = 0.45  # a light value of 255 adds this fraction


@dataclasses.dataclass(frozen=True)
class Rendered:
    """Rendered pixels and geometry of one example."""

    image: np.ndarray       # uint8 (H, W, C)
    mask: np.ndarray        # uint8 (H, W, 1), 255 = face
    landmarks: np.ndarray   # float32 (68, 2), (x, y) pixels
    au_regions: np.ndarray  # uint16 (ceil(H/4), ceil(W/4))
    face: np.ndarray | None  # uint8 (H, W, C), the face alone on black (composite only)


class _Canvas:
    """The drawing layers of one render plus the colour conversion for its channel count."""

    def __init__(self, h: int, w: int, channels: int):
        self.channels = channels
        self.person = np.zeros((h, w, channels), np.uint8)
        self.alpha = np.zeros((h, w), np.uint8)
        self.dark = np.zeros((h, w), np.uint8)
        self.light = np.zeros((h, w), np.uint8)

    def col(self, rgb) -> tuple[float, ...]:
        return draw.colour(rgb, self.channels)

    def solid(self, points, rgb) -> None:
        """An opaque region of the person (albedo and coverage)."""
        draw.fill(self.person, points, self.col(rgb))
        draw.fill(self.alpha, points, 255)


@functools.lru_cache(maxsize=1)
def _unit_sphere() -> np.ndarray:
    """Sample points (N, 3) on the unit sphere, for head silhouettes."""
    az = np.linspace(0, 2 * np.pi, 14, endpoint=False)
    el = np.linspace(-np.pi / 2, np.pi / 2, 9)
    a, e = np.meshgrid(az, el)
    pts = np.column_stack([(np.cos(e) * np.cos(a)).ravel(), np.sin(e).ravel(),
                           (np.cos(e) * np.sin(a)).ravel()])
    pts.setflags(write=False)
    return pts


def _skull(idn: Identity, bottom: float) -> np.ndarray:
    """Points (N, 3) of the hair volume (an ellipsoid) above face-frame height `bottom`."""
    v = idn.hair_volume
    pts = _unit_sphere() * (1.07 * idn.face_width * v, 1.33 * v, 1.1 * v) + (0.0, -0.3, -0.4)
    # the hairline drops towards the nape: lower cut at the back of the head
    return pts[pts[:, 1] < bottom + 0.8 * np.clip(-0.3 - pts[:, 2], 0.0, None)]


def _facing(proj: Projection, normal) -> float:
    n = np.asarray(normal, dtype=np.float64)
    return float(proj.facing(n / np.linalg.norm(n)))


def _ring(x_radius: float, y: float, z_centre: float, z_radius: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    return np.column_stack([x_radius * np.cos(t), np.full(t.size, y),
                            z_centre + z_radius * np.sin(t)])


def _draw_body_and_back_hair(cv: _Canvas, idn: Identity, proj: Projection) -> None:
    w = idn.face_width
    neck = np.concatenate([_ring(0.45 * w, 0.3, -0.4, 0.45), _ring(0.52 * w, 2.8, -0.45, 0.5)])
    cv.solid(draw.hull(proj(neck)), idn.skin_rgb * 0.9)
    clothes = np.array([(-2.8, 4.5), (-2.6, 2.6), (-1.9, 2.05), (-0.5 * w, 1.72), (0, 2.05),
                        (0.5 * w, 1.72), (1.9, 2.05), (2.6, 2.6), (2.8, 4.5)])
    cv.solid(proj(np.column_stack([clothes, np.full(len(clothes), -0.45)])), idn.clothing_rgb)
    draw.ellipse(cv.dark, proj(np.array([0.0, idn.chin_y + 0.08, -0.1])),
                 (0.4 * w * proj.scale, 0.08 * proj.scale), _roll(proj), 70)
    # the back of the skull and the jaw's far side, visible in profile below the hair
    cranium = _unit_sphere() * (0.95 * w, 1.2, 1.0) + (0.0, -0.15, -0.45)
    cv.solid(draw.hull(proj(cranium)), idn.skin_rgb)
    if idn.hair_style == "shaved":
        cv.solid(draw.hull(proj(_skull(idn, -0.1))), 0.55 * idn.skin_rgb + 0.45 * idn.hair_rgb)
        return
    bottom = {"short": 0.0, "bob": 0.35, "long": 0.5}[idn.hair_style]
    cv.solid(draw.hull(proj(_skull(idn, bottom))), idn.hair_rgb)
    if idn.hair_style in ("long", "bob"):
        low = 1.6 if idn.hair_style == "long" else 0.55
        for s in (-1.0, 1.0):
            panel = np.array([[s * w, -0.6, -0.1], [s * 1.13 * w, 0.3, -0.25],
                              [s * 1.08 * w, low, -0.3], [s * 0.62 * w, low + 0.1, -0.5],
                              [s * 0.7 * w, 0.0, -0.6]])
            cv.solid(draw.hull(proj(panel)), idn.hair_rgb * 0.92)


def _ear(idn: Identity, side: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    w = idn.face_width
    return np.column_stack([side * (0.96 * w + 0.07 * (1 + np.cos(t))),
                            -0.07 + 0.2 * np.sin(t), -0.3 + 0.09 * np.cos(t)])


def _draw_ears(cv: _Canvas, idn: Identity, proj: Projection, in_front: bool) -> None:
    if idn.hair_style in ("long", "bob"):
        return
    for side in (-1.0, 1.0):
        if (_facing(proj, (side, 0.0, 0.3)) > 0.3) != in_front:
            continue
        outline = proj(_ear(idn, side))
        cv.solid(outline, idn.skin_rgb * 0.93)
        inner = outline.mean(0) + 0.55 * (outline - outline.mean(0))
        draw.stroke(cv.dark, inner[2:9], 90, 0.02 * proj.scale)


def _roll(proj: Projection) -> float:
    d = proj.direction((1.0, 0.0, 0.0))
    return float(np.degrees(np.arctan2(d[1], d[0])))


def _draw_eye(cv: _Canvas, idn: Identity, proj: Projection, pts: np.ndarray,
              facing: float, inner: int) -> None:
    """pts: the six eye landmarks in iBUG order (corner, two upper, corner, two lower);
    inner: index in pts of the corner next to the nose."""
    if facing < 0.08:
        return
    unit = proj.scale
    up = proj.direction((0.0, -1.0, 0.0))
    cv.solid(pts, _SCLERA)
    centre = pts[[1, 2, 4, 5]].mean(0)
    radius = 0.44 * idn.eye_half_width * unit
    axes = (radius * max(facing, 0.3), radius)
    angle = _roll(proj)
    draw.ellipse(cv.person, centre, axes, angle, cv.col(idn.iris_rgb))
    draw.ellipse(cv.person, centre, (0.45 * axes[0], 0.45 * axes[1]), angle, cv.col(_PUPIL))
    draw.ellipse(cv.person, centre + 0.35 * radius * (up - proj.direction((1, 0, 0))),
                 (0.16 * radius, 0.16 * radius), 0, cv.col((250, 250, 250)))
    lid = 1.4 * radius * up
    upper, lower = pts[[0, 1, 2, 3]], pts[[3, 4, 5, 0]]
    draw.fill(cv.person, np.concatenate([upper, [pts[3] + lid, pts[0] + lid]]),
              cv.col(idn.skin_rgb))
    draw.fill(cv.person, np.concatenate([lower, [pts[0] - lid, pts[3] - lid]]),
              cv.col(idn.skin_rgb))
    draw.stroke(cv.person, upper, cv.col(idn.brow_rgb * 0.5), max(1.0, 0.03 * unit))
    draw.stroke(cv.dark, lower, 80, 0.012 * unit)
    draw.stroke(cv.dark, upper + 0.07 * unit * up, 70, 0.016 * unit)
    draw.ellipse(cv.dark, 0.5 * (pts[inner] + centre) + 0.07 * unit * up,
                 (0.12 * unit, 0.06 * unit), angle, 45)


def _draw_brow(cv: _Canvas, idn: Identity, proj: Projection, pts: np.ndarray,
               taper: np.ndarray, facing: float) -> None:
    if facing < 0.05:
        return
    up = proj.direction((0.0, -1.0, 0.0))
    th = idn.brow_thickness * proj.scale * taper[:, None]
    outline = np.concatenate([pts + 0.55 * th * up, (pts - 0.45 * th * up)[::-1]])
    draw.fill(cv.person, outline, cv.col(idn.brow_rgb))


def _draw_nose(cv: _Canvas, idn: Identity, proj: Projection, shape: np.ndarray,
               lm: np.ndarray, scene: Scene) -> None:
    unit = proj.scale
    if abs(scene.yaw) > 8:  # the nose now hides part of the far cheek and eye
        draw.fill(cv.person, draw.hull(lm[27:36]), cv.col(idn.skin_rgb))
    turn = np.sin(np.radians(scene.yaw))
    for s, wing in ((-1.0, 31), (1.0, 35)):
        side = np.array([[s * 0.05, shape[27, 1] + 0.05, shape[28, 2] - 0.05],
                         [s * 0.065, shape[29, 1], shape[29, 2] - 0.06],
                         [s * 0.09, shape[30, 1] - 0.03, shape[30, 2] - 0.1],
                         shape[wing] + (-s * 0.01, -0.04, 0.0)])
        value = 40 + 70 * np.clip(-s * scene.light[0] * 2, 0, 1) + 120 * np.clip(s * turn * 1.5,
                                                                                   0, 1)
        draw.stroke(cv.dark, proj(side), value, 0.03 * unit)
        crease = lift(idn, np.array([shape[wing, :2] + (-s * 0.02, -0.07),
                                      shape[wing, :2] + (s * 0.02, -0.02),
                                      shape[wing, :2] + (0.0, 0.02)]), 0.06)
        draw.stroke(cv.dark, proj(crease), 80, 0.018 * unit)
        inner = 32 if s < 0 else 34
        if _facing(proj, (s * 0.4, 0.6, 0.7)) > 0.1:
            a, b = lm[wing], lm[inner]
            direction = np.degrees(np.arctan2(*(b - a)[::-1]))
            draw.ellipse(cv.person, 0.5 * (a + b) - 0.012 * unit * proj.direction((0, -1, 0)),
                         (0.45 * np.linalg.norm(b - a), 0.022 * unit), direction,
                         cv.col(idn.skin_rgb * 0.3))
    draw.ellipse(cv.dark, proj(shape[33] + (0.0, 0.05, -0.05)),
                 (idn.nose_half_width * 0.75 * unit, 0.025 * unit), _roll(proj), 70)
    draw.ellipse(cv.light, lm[30] + 0.03 * unit * proj.direction((0, -1, 0)),
                 (0.05 * unit, 0.035 * unit), _roll(proj), 110)
    draw.stroke(cv.light, lm[27:30], 50, 0.035 * unit)


def _draw_mouth(cv: _Canvas, idn: Identity, proj: Projection, shape: np.ndarray,
                lm: np.ndarray) -> None:
    unit = proj.scale
    upper = lm[[48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]]
    lower = lm[[54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64]]
    draw.fill(cv.person, upper, cv.col(idn.lip_rgb * 0.85))
    draw.fill(cv.person, lower, cv.col(idn.lip_rgb))
    top, bottom = shape[[60, 61, 62, 63, 64]], shape[[60, 67, 66, 65, 64]]
    gap = bottom[:, 1] - top[:, 1]
    if gap.max() > 0.06:
        draw.fill(cv.person, lm[60:68], cv.col(_MOUTH))
        reach = np.clip(0.05 / np.maximum(gap, 1e-6), 0.0, 0.8)[:, None]
        teeth = top + (bottom - top) * reach
        draw.fill(cv.person, np.concatenate([proj(top), proj(teeth)[::-1]]), cv.col(_TEETH))
        if gap.max() > 0.12:
            reach = np.clip(0.03 / np.maximum(gap, 1e-6), 0.0, 0.4)[:, None]
            low_teeth = bottom + (top - bottom) * reach
            draw.fill(cv.person, np.concatenate([proj(bottom), proj(low_teeth)[::-1]]),
                      cv.col(_TEETH * 0.9))
    draw.stroke(cv.person, lm[60:65], cv.col(idn.lip_rgb * 0.4), max(1.0, 0.014 * unit))
    down = -proj.direction((0, -1, 0))
    draw.ellipse(cv.light, 0.5 * (lm[57] + lm[66]), (0.09 * unit, 0.02 * unit), _roll(proj), 70)
    draw.stroke(cv.dark, lm[[58, 57, 56]] + 0.045 * unit * down, 50, 0.03 * unit)
    for corner, wing in ((48, 31), (54, 35)):  # the faint resting nasolabial fold
        fold = lift(idn, np.array([shape[wing, :2] + (0.0, -0.03),
                                    shape[corner, :2] + (np.sign(shape[corner, 0]) * 0.07,
                                                         -0.02)]))
        draw.stroke(cv.dark, proj(fold), 30, 0.02 * unit)


def _draw_cues(cv: _Canvas, idn: Identity, proj: Projection,
               strokes: list[tuple[Stroke, float]]) -> None:
    for stroke, intensity in sorted(strokes, key=lambda s: s[0].value * s[1]):
        layer = cv.dark if stroke.layer == "dark" else cv.light
        pts = proj(lift(idn, stroke.points, 0.02 + stroke.dz))
        value = min(255.0, stroke.value * intensity)
        if stroke.filled:
            draw.fill(layer, pts, value)
        else:
            draw.stroke(layer, pts, value, stroke.width * proj.scale)


def _hair_front(idn: Identity) -> list[np.ndarray]:
    """Two face-frame polygons (N, 3) from the hairline over the top of the head."""
    w, v = idn.face_width, idn.hair_volume
    halves = []
    for s in (-1.0, 1.0):
        xs = s * np.linspace(0.0, 0.97 * w, 7)
        hairline = idn.hairline_y + 0.28 * (xs / w) ** 2
        hairline[-1] = -0.3
        front = lift(idn, np.column_stack([xs, hairline]), 0.03)
        ox = xs * 1.08 * v
        top = -0.3 - 1.33 * v * np.sqrt(np.clip(1 - (ox / (1.1 * w * v)) ** 2, 0.0, 1.0)) * 0.99
        back = np.column_stack([ox, top, np.full_like(xs, -0.1)])
        halves.append(np.concatenate([front, back[::-1]]))
    return halves


_SHADING_STEP = 4  # shading is smooth: evaluate it on a 4x coarser grid and upsample


def _shading(h: int, w: int, proj: Projection, idn: Identity, scene: Scene) -> np.ndarray:
    """Lambertian shading of a head-sized ellipsoid seen by the camera, float32 (H, W)."""
    step = _SHADING_STEP
    gh, gw = -(-h // step), -(-w // step)
    centre = proj(np.array([0.0, 0.0, HEAD_CENTRE[2]]))
    angle = np.radians(_roll(proj))
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


def render(config: SynthConfig, idn: Identity, expression: Expression, scene: Scene,
           rng: np.random.Generator) -> Rendered:
    """Renders one example; `rng` drives the background, fringe and sensor noise."""
    h, w = config.image_size
    c = config.channels
    proj = scene.projection
    unit = proj.scale
    neutral = neutral_shape(idn)
    motion = au_displacements(expression.right, expression.left)
    shape = deform(neutral, motion)
    lm = proj(shape)
    cv = _Canvas(h, w, c)

    _draw_body_and_back_hair(cv, idn, proj)
    _draw_ears(cv, idn, proj, in_front=False)
    skin = draw.hull(np.concatenate([lm, proj(contour_points(idn))]))
    cv.solid(skin, idn.skin_rgb)
    _draw_ears(cv, idn, proj, in_front=True)
    eyes = ((36, (-0.3, 0.0, 1.0), 3), (42, (0.3, 0.0, 1.0), 0))
    for start, normal, inner in sorted(eyes, key=lambda e: _facing(proj, e[1])):
        _draw_eye(cv, idn, proj, lm[start:start + 6], _facing(proj, normal), inner)
    _draw_brow(cv, idn, proj, lm[17:22], np.array([0.45, 0.75, 0.95, 1.0, 0.9]),
               _facing(proj, (-0.35, -0.2, 1.0)))
    _draw_brow(cv, idn, proj, lm[22:27], np.array([0.9, 1.0, 0.95, 0.75, 0.45]),
               _facing(proj, (0.35, -0.2, 1.0)))
    _draw_nose(cv, idn, proj, shape, lm, scene)
    _draw_mouth(cv, idn, proj, shape, lm)
    strokes = au_strokes(shape, expression)
    _draw_cues(cv, idn, proj, strokes)
    if idn.hair_style != "shaved":
        for half in _hair_front(idn):
            cv.solid(proj(half), idn.hair_rgb)
    if scene.fringe:
        cv.solid(proj(fringe_outline(idn, shape, rng)), idn.hair_rgb * 0.95)
    if scene.glasses != GLASSES_NONE:
        draw_glasses(cv.person, cv.alpha, lm, proj, scene.glasses, rng.uniform(0, 120, 3), c)

    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [draw.fixed(skin)], (255,), cv2.LINE_8, draw.SHIFT)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))

    dark = cv2.GaussianBlur(cv.dark, (0, 0), max(0.4, 0.012 * unit)).astype(np.float32)
    light = cv2.GaussianBlur(cv.light, (0, 0), max(0.6, 0.04 * unit)).astype(np.float32)
    factor = _shading(h, w, proj, idn, scene)
    factor *= 1.0 - (_DARK_STRENGTH / 255.0) * dark
    factor *= 1.0 + (_LIGHT_STRENGTH / 255.0) * light
    person = cv.person.astype(np.float32) * factor[..., None]

    background = render_background(rng, scene.background, (h, w, c)).astype(np.float32)
    face = None
    if config.composite:
        soft = np.zeros((h, w), np.uint8)
        draw.fill(soft, skin, 255)
        coverage = soft.astype(np.float32)[..., None] / 255.0
        person = person * coverage
        face = np.clip(person * scene.gain, 0, 255).astype(np.uint8)
    else:
        coverage = cv.alpha.astype(np.float32)[..., None] / 255.0
    image = (person + background * (1.0 - coverage)) * np.float32(scene.gain)
    if scene.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), scene.blur_sigma).reshape(h, w, c)
    if scene.noise_std > 0:
        image += rng.standard_normal((h, w, c), dtype=np.float32) * np.float32(scene.noise_std)
    image = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    regions = au_region_map(config.region_shape, proj, shape, motion, expression, strokes,
                            idn, GROUPS)
    return Rendered(image=image, mask=mask[..., None], landmarks=lm.astype(np.float32),
                    au_regions=regions, face=face)
