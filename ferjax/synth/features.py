"""Drawing of the person layer: body and hair volume, ears, eyes, brows, nose, mouth and the AU
cue strokes, onto a Canvas from points a Geometry projected."""

from __future__ import annotations

import cv2
import numpy as np

from ferjax.synth import draw
from ferjax.synth.cues import Stroke
from ferjax.synth.face_model import Projection
from ferjax.synth.identity import Identity
from ferjax.synth.scene import Scene

_SCLERA = np.array([232.0, 228.0, 224.0])
_TEETH = np.array([205.0, 200.0, 185.0])
_MOUTH = np.array([52.0, 20.0, 24.0])
_PUPIL = np.array([14.0, 12.0, 12.0])
BROW_TAPER = np.array([0.45, 0.75, 0.95, 1.0, 0.9])  # right brow, outer to inner end


class Canvas:
    """The uint8 drawing layers of one render (person albedo, its coverage alpha, dark and
    light shading strokes) plus the colour conversion for its channel count."""

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


def facing(proj: Projection, normal) -> float:
    """Camera-facing component of a face-frame normal after the head's rotation (1 = facing
    the camera, <= 0 = turned away)."""
    n = np.asarray(normal, dtype=np.float64)
    return float(proj.facing(n / np.linalg.norm(n)))


def draw_body_and_back_hair(cv: Canvas, idn: Identity, px: dict, proj: Projection) -> None:
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


def draw_ears(cv: Canvas, idn: Identity, px: dict, proj: Projection, in_front: bool) -> None:
    for side in (-1.0, 1.0):
        name = f"ear{side:+.0f}"
        if name not in px or (facing(proj, (side, 0.0, 0.3)) > 0.3) != in_front:
            continue
        outline = px[name]
        cv.solid(outline, idn.skin_rgb * 0.93)
        inner = outline.mean(0) + 0.55 * (outline - outline.mean(0))
        draw.stroke(cv.dark, inner[2:9], 90, 0.02 * proj.scale)


def draw_eye(cv: Canvas, idn: Identity, proj: Projection, pts: np.ndarray,
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


def draw_brow(cv: Canvas, idn: Identity, proj: Projection, pts: np.ndarray,
               taper: np.ndarray, facing: float) -> None:
    if facing < 0.05:
        return
    th = (idn.brow_thickness * proj.scale) * taper[:, None] * proj.up
    outline = np.concatenate([pts + 0.55 * th, (pts - 0.45 * th)[::-1]])
    draw.fill(cv.person, outline, cv.col(idn.brow_rgb))


def draw_nose(cv: Canvas, idn: Identity, proj: Projection, px: dict, scene: Scene) -> None:
    unit, lm = proj.scale, px["lm"]
    if abs(scene.yaw) > 8:  # the nose now hides part of the far cheek and eye
        draw.fill(cv.person, draw.hull(lm[27:36]), cv.col(idn.skin_rgb))
    turn = np.sin(np.radians(scene.yaw))
    for s, wing, inner in ((-1.0, 31, 32), (1.0, 35, 34)):
        value = (40 + 70 * min(1.0, max(0.0, -s * scene.light[0] * 2))
                 + 120 * min(1.0, max(0.0, s * turn * 1.5)))
        draw.stroke(cv.dark, px[f"nose_side{s:+.0f}"], value, 0.03 * unit)
        draw.stroke(cv.dark, px[f"crease{s:+.0f}"], 80, 0.018 * unit)
        if facing(proj, (s * 0.4, 0.6, 0.7)) > 0.1:
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


def draw_mouth(cv: Canvas, idn: Identity, proj: Projection, px: dict) -> None:
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


def draw_cues(cv: Canvas, proj: Projection, strokes: list[tuple[Stroke, float]],
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
