"""Appearance cues of the AUs beyond landmark motion: wrinkles, furrows, bulges, dimples.

Cues are strokes in face-frame (x, y) coordinates anchored on the deformed landmarks, lifted
onto the face surface and projected with the face, so they follow pose. The renderer draws them
into its shading layers and the AU-region map uses the very same strokes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ferjax.ibug68 import MIRROR
from ferjax.synth.aus import AU_NAMES
from ferjax.synth.expression import Expression

MIN_INTENSITY = 0.05  # weaker AUs change < 1 grey level and < 0.3 pixel: not drawn


class Stroke(NamedTuple):
    """One cue: a polyline (or filled polygon) in face-frame (x, y), shading `layer`
    ('dark' or 'light') with `value` (0-255 at intensity 1), `width` in face units."""

    au: int
    points: np.ndarray
    width: float
    value: float
    layer: str = "dark"
    filled: bool = False
    dz: float = 0.0  # height above the face surface (the nose bridge for AU9 wrinkles)


_ARC_T = {5: np.linspace(0.0, 1.0, 5)}
_OVAL_T = {n: np.linspace(0, 2 * np.pi, n, endpoint=False) for n in (6, 12)}


def _arc(a, b, bulge, n=5):
    """Points from a to b bowing by `bulge` (face units, +y = down) in the middle."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    t = _ARC_T[n]
    pts = a + (b - a) * t[:, None]
    pts[:, 1] += bulge * np.sin(np.pi * t)
    return pts


def _oval(centre, radii, n=12):
    t = _OVAL_T[n]
    return np.column_stack([centre[0] + radii[0] * np.cos(t), centre[1] + radii[1] * np.sin(t)])


def _nasolabial(p):
    return np.array([p[31] + (-0.035, -0.03), (p[31, 0] - 0.12, p[31, 1] + 0.09),
                     (p[48, 0] - 0.065, p[48, 1] + 0.0), (p[48, 0] - 0.05, p[48, 1] + 0.11)])


# Right-half cues (subject's right = image left), per AU: p (68, 2) -> list of
# (points, width, value, layer, filled[, dz]). Built only for AUs that are active.
_SIDE = {
    "AU2": lambda p: [
        (_arc((p[17, 0], p[18, 1] - 0.11 - 0.07 * j), (p[19, 0] + 0.03,
              p[19, 1] - 0.12 - 0.07 * j), -0.02), 0.016, 100, "dark", False) for j in range(2)],
    "AU4": lambda p: [
        (_oval((0.5 * (p[20, 0] + p[21, 0]), p[20, 1] + 0.07), (0.1, 0.035)), 0, 70, "dark",
         True)],
    "AU6": lambda p: [
        (_oval((p[41, 0] + 0.02, p[41, 1] + 0.17), (0.17, 0.09)), 0, 110, "light", True),
        (np.array([p[36] + (-0.02, 0.06), p[41] + (0, 0.07), p[40] + (0, 0.07),
                   p[39] + (0.01, 0.055)]), 0.016, 90, "dark", False)]
    + [(np.array([p[36] + (-0.04, -0.03 + 0.03 * j), p[36] + (-0.12, -0.07 + 0.07 * j)]),
        0.012, 90, "dark", False) for j in range(3)],
    "AU7": lambda p: [
        (p[[36, 41, 40, 39]] + (0, 0.035), 0.014, 100, "dark", False)],
    "AU9": lambda p: [(_nasolabial(p), 0.022, 100, "dark", False)],
    "AU10": lambda p: [(_nasolabial(p), 0.022, 120, "dark", False)],
    "AU12": lambda p: [
        (_nasolabial(p), 0.024, 130, "dark", False),
        (_oval((p[48, 0] - 0.1, p[48, 1] - 0.2), (0.15, 0.1)), 0, 60, "light", True)],
    "AU14": lambda p: [
        (np.array([p[48] + (-0.05, -0.04), p[48] + (-0.06, 0.02), p[48] + (-0.045, 0.07)]),
         0.018, 140, "dark", False)],
    "AU15": lambda p: [
        (np.array([p[48] + (-0.01, 0.02), p[48] + (-0.04, 0.14)]), 0.018, 110, "dark", False)],
    "AU20": lambda p: [
        (np.array([p[48] + (-0.03, 0.0), p[48] + (-0.12, 0.03)]), 0.015, 100, "dark", False)],
}


def _brow_top(p):
    return min(p[21, 1], p[22, 1])


_CHIN_DOTS = ((-0.05, 0.12), (0.04, 0.15), (0.0, 0.1), (0.06, 0.1))

_MIDLINE = {
    "AU1": lambda p: [
        (_arc((p[20, 0], _brow_top(p) - 0.12 - 0.075 * j), (p[23, 0], _brow_top(p) - 0.12
              - 0.075 * j), -0.025), 0.018, 110, "dark", False) for j in range(3)],
    "AU4": lambda p: [
        (np.array([(s * 0.045, p[21, 1] - 0.07), (s * 0.035, p[21, 1] + 0.08)]), 0.016, 140,
         "dark", False) for s in (-1, 1)],
    "AU9": lambda p: [
        (_arc((-0.09, y), (0.09, y), -0.015), 0.013, 120, "dark", False, 0.14)
        for y in (p[28, 1], 0.5 * (p[28, 1] + p[29, 1]) + 0.01, p[29, 1] + 0.02)],
    "AU17": lambda p: [
        (_arc((p[59, 0] + 0.03, p[57, 1] + 0.07), (p[55, 0] - 0.03, p[57, 1] + 0.07), -0.02),
         0.02, 120, "dark", False),
        (_oval((0.0, p[8, 1] - 0.14), (0.14, 0.07)), 0, 60, "light", True)]
    + [(_oval((x, p[8, 1] - y), (0.014, 0.012), 6), 0, 90, "dark", True)
       for x, y in _CHIN_DOTS],
    "AU23": lambda p: [(p[60:65], 0.016, 120, "dark", False)],
}
_SIDE_INDEX = tuple((AU_NAMES.index(name), fn) for name, fn in _SIDE.items())
_MIDLINE_INDEX = tuple((AU_NAMES.index(name), fn) for name, fn in _MIDLINE.items())


def au_strokes(shape: np.ndarray, expression: Expression) -> list[tuple[Stroke, float]]:
    """(stroke, intensity) of every visible cue of `expression` on the deformed `shape`.

    shape: float (68, 3) face-frame landmarks; only x, y anchor the cues. Right-half cues take
    the right-side intensity, their mirror images the left-side one, midline cues the larger.
    """
    p = shape[:, :2]
    out: list[tuple[Stroke, float]] = []
    right, left = expression.right, expression.left
    mirrored = None
    for k, make in _SIDE_INDEX:
        if right[k] >= MIN_INTENSITY:
            for pts, width, value, layer, filled in make(p):
                out.append((Stroke(k, pts, width, value, layer, filled), float(right[k])))
        if left[k] >= MIN_INTENSITY:
            if mirrored is None:  # the face's mirror image: its right half is our left half
                mirrored = p[MIRROR] * (-1.0, 1.0)
            for pts, width, value, layer, filled in make(mirrored):
                out.append((Stroke(k, pts * (-1.0, 1.0), width, value, layer, filled),
                            float(left[k])))
    for k, make in _MIDLINE_INDEX:
        both = max(right[k], left[k])
        if both >= MIN_INTENSITY:
            for pts, width, value, layer, filled, *dz in make(p):
                out.append((Stroke(k, pts, width, value, layer, filled, *dz), float(both)))
    return out
