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
                                     contour_points, deform,
                                     neutral_shape, surface_z)
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
_BROW_TAPER = np.array([0.45, 0.75, 0.95, 1.0, 0.9])  # right brow, outer to inner end
_DILATE = np.ones((3, 3), np.uint8)


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
        pts = [draw.fixed(points)]
        cv2.fillPoly(self.person, pts, self.col(rgb), draw.LINE, draw.SHIFT)
        cv2.fillPoly(self.alpha, pts, (255,), draw.LINE, draw.SHIFT)


@functools.lru_cache(maxsize=1)
def _unit_sphere() -> np.ndarray:
    """Sample points (N, 3) on the unit sphere, for head silhouettes."""
    az = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    el = np.linspace(-np.pi / 2, np.pi / 2, 7)
    a, e = np.meshgrid(az, el)
    pts = np.column_stack([(np.cos(e) * np.cos(a)).ravel(), np.sin(e).ravel(),
                           (np.cos(e) * np.sin(a)).ravel()])
    pts.setflags(write=False)
    return pts


@functools.lru_cache(maxsize=1)
def _unit_circle() -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    return np.cos(t), np.sin(t)


@functools.lru_cache(maxsize=16)
def _gaussian_kernel(sigma_sixteenths: int) -> np.ndarray:
    sigma = sigma_sixteenths / 16.0
    return cv2.getGaussianKernel(2 * int(np.ceil(3 * sigma)) + 1, sigma).astype(np.float32)


def _blur_to_float(layer: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a uint8 layer straight into float32 (one separable pass)."""
    k = _gaussian_kernel(max(1, int(round(sigma * 16))))
    return cv2.sepFilter2D(layer, cv2.CV_32F, k, k)


def _facing(proj: Projection, normal) -> float:
    n = np.asarray(normal, dtype=np.float64)
    return float(proj.facing(n / np.linalg.norm(n)))


class _Geometry:
    """Collects the face-frame points a render needs, lifts and projects them in one batch
    (thousands of tiny NumPy calls would otherwise dominate the render time)."""

    def __init__(self, idn: Identity):
        self._idn = idn
        self._names: list[str] = []
        self._points: list[np.ndarray] = []
        self._lift_names: list[str] = []
        self._lift_xy: list[np.ndarray] = []
        self._lift_dz: list[float] = []

    def add(self, name: str, points: np.ndarray) -> None:
        self._names.append(name)
        self._points.append(points)

    def lift(self, name: str, xy: np.ndarray, dz: float = 0.0) -> None:
        self._lift_names.append(name)
        self._lift_xy.append(xy)
        self._lift_dz.append(dz)

    def project(self, proj: Projection) -> dict[str, np.ndarray]:
        sizes = [len(p) for p in self._lift_xy]
        xy = np.concatenate(self._lift_xy)
        dz = np.repeat(self._lift_dz, sizes)
        lifted = np.column_stack([xy, surface_z(xy[:, 0], xy[:, 1], self._idn.face_width) + dz])
        names = self._names + self._lift_names
        sizes = [len(p) for p in self._points] + sizes
        flat = proj(np.concatenate(self._points + [lifted]))
        return dict(zip(names, np.split(flat, np.cumsum(sizes)[:-1])))


def _skull(idn: Identity, bottom: float) -> np.ndarray:
    """Points (N, 3) of the hair volume (an ellipsoid) above face-frame height `bottom`."""
    v = idn.hair_volume
    pts = _unit_sphere() * (1.07 * idn.face_width * v, 1.33 * v, 1.1 * v) + (0.0, -0.3, -0.4)
    # the hairline drops towards the nape: lower cut at the back of the head
    return pts[pts[:, 1] < bottom + 0.8 * np.maximum(-0.3 - pts[:, 2], 0.0)]


def _ring(x_radius: float, y: float, z_centre: float, z_radius: float) -> np.ndarray:
    c, s = _unit_circle()
    return np.column_stack([x_radius * c, np.full(c.size, y), z_centre + z_radius * s])


_HAIR_BOTTOM = {"short": 0.0, "bob": 0.35, "long": 0.5, "shaved": -0.1}
_HAIR_X = np.linspace(0.0, 0.97, 7)


def _body_geometry(geo: _Geometry, idn: Identity) -> None:
    w = idn.face_width
    geo.add("neck", np.concatenate([_ring(0.45 * w, 0.3, -0.4, 0.45),
                                    _ring(0.52 * w, 2.8, -0.45, 0.5)]))
    geo.add("clothes", np.array([
        (-2.8, 4.5, -0.45), (-2.6, 2.6, -0.45), (-1.9, 2.05, -0.45), (-0.5 * w, 1.72, -0.45),
        (0, 2.05, -0.45), (0.5 * w, 1.72, -0.45), (1.9, 2.05, -0.45), (2.6, 2.6, -0.45),
        (2.8, 4.5, -0.45)]))
    geo.add("cranium", _unit_sphere() * (0.95 * w, 1.2, 1.0) + (0.0, -0.15, -0.45))
    geo.add("skull", _skull(idn, _HAIR_BOTTOM[idn.hair_style]))
    if idn.hair_style in ("long", "bob"):
        low = 1.6 if idn.hair_style == "long" else 0.55
        for s in (-1.0, 1.0):
            geo.add(f"panel{s:+.0f}", np.array([
                [s * w, -0.6, -0.1], [s * 1.13 * w, 0.3, -0.25], [s * 1.08 * w, low, -0.3],
                [s * 0.62 * w, low + 0.1, -0.5], [s * 0.7 * w, 0.0, -0.6]]))
    else:
        c, s_ = _unit_circle()
        for s in (-1.0, 1.0):
            geo.add(f"ear{s:+.0f}", np.column_stack([
                s * (0.96 * w + 0.07 * (1 + c)), -0.07 + 0.2 * s_, -0.3 + 0.09 * c]))
    if idn.hair_style != "shaved":
        v = idn.hair_volume
        for s in (-1.0, 1.0):
            xs = s * w * _HAIR_X
            hairline = idn.hairline_y + 0.28 * (xs / w) ** 2
            hairline[-1] = -0.3
            geo.lift(f"hairline{s:+.0f}", np.column_stack([xs, hairline]), 0.03)
            ox = xs * 1.08 * v
            top = -0.3 - 1.32 * v * np.sqrt(np.maximum(1 - (ox / (1.1 * w * v)) ** 2, 0.0))
            geo.add(f"haircap{s:+.0f}", np.column_stack([ox, top, np.full(xs.size, -0.1)])[::-1])


def _face_geometry(geo: _Geometry, idn: Identity, shape: np.ndarray) -> None:
    geo.add("lm", shape)
    geo.lift("contour", contour_points(idn)[:, :2])
    for s, wing in ((-1.0, 31), (1.0, 35)):
        geo.add(f"nose_side{s:+.0f}", np.array([
            [s * 0.05, shape[27, 1] + 0.05, shape[28, 2] - 0.05],
            [s * 0.065, shape[29, 1], shape[29, 2] - 0.06],
            [s * 0.09, shape[30, 1] - 0.03, shape[30, 2] - 0.1],
            shape[wing] + (-s * 0.01, -0.04, 0.0)]))
        geo.lift(f"crease{s:+.0f}", shape[wing, :2] + np.array(
            [(-s * 0.02, -0.07), (s * 0.02, -0.02), (0.0, 0.02)]), 0.06)
    for corner, wing in ((48, 31), (54, 35)):  # the faint resting nasolabial fold
        geo.lift(f"fold{corner}", np.array([
            shape[wing, :2] + (0.0, -0.03),
            shape[corner, :2] + (np.sign(shape[corner, 0]) * 0.07, -0.02)]))
    geo.add("under_nose", (shape[33] + (0.0, 0.05, -0.05))[None])
    geo.add("shade_centre", np.array([[0.0, 0.0, HEAD_CENTRE[2]]]))
    top, bottom = shape[[60, 61, 62, 63, 64]], shape[[60, 67, 66, 65, 64]]
    gap = bottom[:, 1] - top[:, 1]
    if gap.max() > 0.06:  # open mouth: teeth bands hanging from the inner lips
        safe = np.maximum(gap, 1e-6)[:, None]
        geo.add("teeth", np.concatenate([top, (top + (bottom - top) * np.minimum(
            0.05 / safe, 0.8))[::-1]]))
        if gap.max() > 0.12:
            geo.add("low_teeth", np.concatenate([bottom, (bottom + (top - bottom) * np.minimum(
                0.03 / safe, 0.4))[::-1]]))


def _draw_body_and_back_hair(cv: _Canvas, idn: Identity, px: dict, proj: Projection) -> None:
    cv.solid(draw.hull(px["neck"]), idn.skin_rgb * 0.8)  # the neck is in the head's shadow
    cv.solid(px["clothes"], idn.clothing_rgb)
    # the back of the skull and the jaw's far side, visible in profile below the hair
    cv.solid(draw.hull(px["cranium"]), idn.skin_rgb)
    if idn.hair_style == "shaved":
        cv.solid(draw.hull(px["skull"]), 0.55 * idn.skin_rgb + 0.45 * idn.hair_rgb)
        return
    cv.solid(draw.hull(px["skull"]), idn.hair_rgb)
    for s in ("-1", "+1"):
        if f"panel{s}" in px:
            cv.solid(draw.hull(px[f"panel{s}"]), idn.hair_rgb * 0.92)


def _draw_ears(cv: _Canvas, idn: Identity, px: dict, proj: Projection, in_front: bool) -> None:
    for side in (-1.0, 1.0):
        name = f"ear{side:+.0f}"
        if name not in px or (_facing(proj, (side, 0.0, 0.3)) > 0.3) != in_front:
            continue
        outline = px[name]
        cv.solid(outline, idn.skin_rgb * 0.93)
        inner = outline.mean(0) + 0.55 * (outline - outline.mean(0))
        draw.stroke(cv.dark, inner[2:9], 90, 0.02 * proj.scale)


def _draw_eye(cv: _Canvas, idn: Identity, proj: Projection, pts: np.ndarray,
              facing: float, inner: int) -> None:
    """pts: the six eye landmarks in iBUG order (corner, two upper, corner, two lower);
    inner: index in pts of the corner next to the nose."""
    if facing < 0.08:
        return
    unit, up, angle = proj.scale, proj.up, proj.roll_deg
    cv.solid(pts, _SCLERA)
    centre = pts[[1, 2, 4, 5]].mean(0)
    radius = 0.44 * idn.eye_half_width * unit
    axes = (radius * max(facing, 0.3), radius)
    draw.ellipse(cv.person, centre, axes, angle, cv.col(idn.iris_rgb))
    draw.ellipse(cv.person, centre, (0.45 * axes[0], 0.45 * axes[1]), angle, cv.col(_PUPIL))
    draw.ellipse(cv.person, centre + 0.35 * radius * (up - proj.across),
                 (0.16 * radius, 0.16 * radius), 0, cv.col((250, 250, 250)))
    lid = 1.4 * radius * up
    upper, lower = pts[[0, 1, 2, 3]], pts[[3, 4, 5, 0]]
    skin = cv.col(idn.skin_rgb)
    draw.fill(cv.person, np.concatenate([upper, [pts[3] + lid, pts[0] + lid]]), skin)
    draw.fill(cv.person, np.concatenate([lower, [pts[0] - lid, pts[3] - lid]]), skin)
    draw.stroke(cv.person, upper, cv.col(idn.brow_rgb * 0.5), max(1.0, 0.03 * unit))
    draw.stroke(cv.dark, lower, 80, 0.012 * unit)
    draw.stroke(cv.dark, upper + 0.07 * unit * up, 70, 0.016 * unit)
    draw.ellipse(cv.dark, 0.5 * (pts[inner] + centre) + 0.07 * unit * up,
                 (0.12 * unit, 0.06 * unit), angle, 45)


def _draw_brow(cv: _Canvas, idn: Identity, proj: Projection, pts: np.ndarray,
               taper: np.ndarray, facing: float) -> None:
    if facing < 0.05:
        return
    th = (idn.brow_thickness * proj.scale) * taper[:, None] * proj.up
    outline = np.concatenate([pts + 0.55 * th, (pts - 0.45 * th)[::-1]])
    draw.fill(cv.person, outline, cv.col(idn.brow_rgb))


def _draw_nose(cv: _Canvas, idn: Identity, proj: Projection, px: dict, scene: Scene) -> None:
    unit, lm = proj.scale, px["lm"]
    if abs(scene.yaw) > 8:  # the nose now hides part of the far cheek and eye
        draw.fill(cv.person, draw.hull(lm[27:36]), cv.col(idn.skin_rgb))
    turn = np.sin(np.radians(scene.yaw))
    for s, wing, inner in ((-1.0, 31, 32), (1.0, 35, 34)):
        value = (40 + 70 * min(1.0, max(0.0, -s * scene.light[0] * 2))
                 + 120 * min(1.0, max(0.0, s * turn * 1.5)))
        draw.stroke(cv.dark, px[f"nose_side{s:+.0f}"], value, 0.03 * unit)
        draw.stroke(cv.dark, px[f"crease{s:+.0f}"], 80, 0.018 * unit)
        if _facing(proj, (s * 0.4, 0.6, 0.7)) > 0.1:
            a, b = lm[wing], lm[inner]
            direction = np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0]))
            draw.ellipse(cv.person, 0.5 * (a + b) - 0.012 * unit * proj.up,
                         (0.45 * np.hypot(*(b - a)), 0.022 * unit), direction,
                         cv.col(idn.skin_rgb * 0.3))
    draw.ellipse(cv.dark, px["under_nose"][0],
                 (idn.nose_half_width * 0.75 * unit, 0.025 * unit), proj.roll_deg, 70)
    draw.ellipse(cv.light, lm[30] + 0.03 * unit * proj.up,
                 (0.05 * unit, 0.035 * unit), proj.roll_deg, 110)
    draw.stroke(cv.light, lm[27:30], 50, 0.035 * unit)


def _draw_mouth(cv: _Canvas, idn: Identity, proj: Projection, px: dict) -> None:
    unit, lm = proj.scale, px["lm"]
    draw.fill(cv.person, lm[[48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]],
              cv.col(idn.lip_rgb * 0.85))
    draw.fill(cv.person, lm[[54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64]],
              cv.col(idn.lip_rgb))
    if "teeth" in px:
        draw.fill(cv.person, lm[60:68], cv.col(_MOUTH))
        draw.fill(cv.person, px["teeth"], cv.col(_TEETH))
        if "low_teeth" in px:
            draw.fill(cv.person, px["low_teeth"], cv.col(_TEETH * 0.9))
    draw.stroke(cv.person, lm[60:65], cv.col(idn.lip_rgb * 0.4), max(1.0, 0.014 * unit))
    draw.ellipse(cv.light, 0.5 * (lm[57] + lm[66]), (0.09 * unit, 0.02 * unit),
                 proj.roll_deg, 70)
    draw.stroke(cv.dark, lm[[58, 57, 56]] - 0.045 * unit * proj.up, 50, 0.03 * unit)
    draw.stroke(cv.dark, px["fold48"], 30, 0.02 * unit)
    draw.stroke(cv.dark, px["fold54"], 30, 0.02 * unit)


def _draw_cues(cv: _Canvas, proj: Projection, strokes: list[tuple[Stroke, float]],
               px: dict) -> None:
    order = sorted(range(len(strokes)), key=lambda i: strokes[i][0].value * strokes[i][1])
    for i in order:
        stroke, intensity = strokes[i]
        layer = cv.dark if stroke.layer == "dark" else cv.light
        value = min(255.0, stroke.value * intensity)
        if stroke.filled:
            draw.fill(layer, px[f"stroke{i}"], value)
        else:
            draw.stroke(layer, px[f"stroke{i}"], value, stroke.width * proj.scale)


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

    geo = _Geometry(idn)
    _body_geometry(geo, idn)
    _face_geometry(geo, idn, shape)
    for i, (stroke, _) in enumerate(strokes):
        geo.lift(f"stroke{i}", stroke.points, 0.02 + stroke.dz)
    if scene.fringe:
        geo.add("fringe", fringe_outline(idn, shape, rng))
    px = geo.project(proj)
    lm = px["lm"]

    cv = _Canvas(h, w, c)
    _draw_body_and_back_hair(cv, idn, px, proj)
    _draw_ears(cv, idn, px, proj, in_front=False)
    skin = draw.hull(np.concatenate([lm, px["contour"]]))
    cv.solid(skin, idn.skin_rgb)
    _draw_ears(cv, idn, px, proj, in_front=True)
    eyes = ((36, (-0.3, 0.0, 1.0), 3), (42, (0.3, 0.0, 1.0), 0))
    for start, normal, inner in sorted(eyes, key=lambda e: _facing(proj, e[1])):
        _draw_eye(cv, idn, proj, lm[start:start + 6], _facing(proj, normal), inner)
    _draw_brow(cv, idn, proj, lm[17:22], _BROW_TAPER, _facing(proj, (-0.35, -0.2, 1.0)))
    _draw_brow(cv, idn, proj, lm[22:27], _BROW_TAPER[::-1], _facing(proj, (0.35, -0.2, 1.0)))
    _draw_nose(cv, idn, proj, px, scene)
    _draw_mouth(cv, idn, proj, px)
    _draw_cues(cv, proj, strokes, px)
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

