"""The 3-D face model: 68 iBUG landmarks in face units, AU displacements, pose projection.

Face frame: x to image right (the subject's left), y down, z towards the camera; the face
half-width is about 1. Landmarks follow iBUG 300-W: 0-16 jaw (0 on the image left), 17-21 the
subject's right brow (image left), 22-26 left brow, 27-30 nose bridge, 31-35 nostrils, 36-41
right eye, 42-47 left eye, 48-59 outer lips, 60-67 inner lips. Self-occluded points keep their
projected 3-D position (the 300W-LP convention), so they stay defined at any yaw.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ferjax.ibug68 import MIDLINE, MIRROR, NUM_POINTS
from ferjax.synth.aus import AU_NAMES, NUM_AUS
from ferjax.synth.identity import Identity

HEAD_CENTRE = np.array([0.0, -0.25, -0.35])
_JAW_ANGLES = np.arange(9) * (np.pi / 16)  # centre of the head ellipsoid used for shading


def surface_z(x, y, face_width):
    """Depth of the face surface (an ellipsoid, flatter vertically) at face-frame (x, y)."""
    inside = 1.0 - (np.asarray(x) / (1.02 * face_width)) ** 2 - ((np.asarray(y) + 0.2) / 1.7) ** 2
    return -0.35 + np.sqrt(np.clip(inside, 0.03, 1.0))


def lift(idn: Identity, xy: np.ndarray, dz: float = 0.0) -> np.ndarray:
    """Face-frame points (N, 2) placed `dz` above the face surface, (N, 3)."""
    xy = np.asarray(xy, dtype=np.float64)
    return np.column_stack([xy, surface_z(xy[:, 0], xy[:, 1], idn.face_width) + dz])


def _right_half(idn: Identity) -> dict[int, tuple[float, float, float]]:
    """(x, y, extra depth) of the right-half and midline landmarks of the neutral face."""
    pts: dict[int, tuple[float, float, float]] = {}
    angles = _JAW_ANGLES
    e = 2.0 / idn.jaw_power
    for k, a in enumerate(angles):  # jaw 0..8: ear level down to the chin (superellipse)
        c, s = np.cos(a), np.sin(a)
        pts[k] = (-idn.face_width * c ** e, idn.jaw_top + (idn.chin_y - idn.jaw_top) * s ** e,
                  0.05 * s ** 4)
    outer, inner = -(idn.eye_x + 1.3 * idn.eye_half_width), -0.11
    for k, t in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):  # brow 17 (outer) .. 21 (inner)
        arch = np.sin(np.pi * (0.05 + 0.8 * t))
        pts[17 + k] = (outer + (inner - outer) * t, idn.brow_y - idn.brow_arch * arch
                       + 0.03 * (1 - t), 0.03)
    top, tip = idn.eye_y - 0.03, idn.nose_tip_y
    prot = idn.nose_protrusion
    for k, t in enumerate((0.0, 1 / 3, 2 / 3, 1.0)):  # bridge 27..30
        pts[27 + k] = (0.0, top + (tip - top) * t, (0.02 + 0.26 * t ** 1.3) * prot)
    nw = idn.nose_half_width
    pts[31] = (-nw, tip + 0.075, 0.05 * prot)
    pts[32] = (-0.5 * nw, tip + 0.1, 0.09 * prot)
    pts[33] = (0.0, tip + 0.11, 0.11 * prot)
    cx, cy, hw = -idn.eye_x, idn.eye_y, idn.eye_half_width
    up, lo = 0.36 * hw * idn.eye_open, 0.3 * hw * idn.eye_open
    pts[36] = (cx - hw, cy + 0.04 * hw, -0.03)
    pts[37] = (cx - 0.42 * hw, cy - up, -0.01)
    pts[38] = (cx + 0.3 * hw, cy - 0.95 * up, -0.01)
    pts[39] = (cx + hw, cy + 0.08 * hw, -0.03)
    pts[40] = (cx + 0.3 * hw, cy + lo, -0.02)
    pts[41] = (cx - 0.42 * hw, cy + 0.95 * lo, -0.02)
    my, mw, ut, lt = idn.mouth_y, idn.mouth_half_width, idn.upper_lip, idn.lower_lip
    pts[48] = (-mw, my, 0.0)
    pts[49] = (-0.58 * mw, my - 0.85 * ut, 0.04)
    pts[50] = (-0.2 * mw, my - ut, 0.06)
    pts[51] = (0.0, my - 0.88 * ut, 0.07)
    pts[59] = (-0.6 * mw, my + 0.7 * lt, 0.03)
    pts[58] = (-0.3 * mw, my + 0.95 * lt, 0.05)
    pts[57] = (0.0, my + lt, 0.06)
    pts[60] = (-0.86 * mw, my, 0.0)
    pts[61] = (-0.35 * mw, my - 0.012, 0.04)
    pts[62] = (0.0, my - 0.012, 0.05)
    pts[67] = (-0.35 * mw, my + 0.012, 0.04)
    pts[66] = (0.0, my + 0.012, 0.05)
    return pts


def neutral_shape(idn: Identity) -> np.ndarray:
    """The subject's neutral 68-landmark shape, float64 (68, 3) in face units."""
    shape = np.zeros((NUM_POINTS, 3))
    for k, (x, y, dz) in _right_half(idn).items():
        shape[k] = (x, y, dz)
        shape[MIRROR[k]] = (-x, y, dz)
    shape[:, 2] += surface_z(shape[:, 0], shape[:, 1], idn.face_width)
    shape[:17, 2] = np.maximum(shape[:17, 2], -0.3)
    return shape


def contour_points(idn: Identity) -> np.ndarray:
    """Temple and forehead outline (not landmarks) that closes the skin region, (12, 3)."""
    w = idn.face_width
    right = [(-w, idn.jaw_top - 0.2), (-0.97 * w, -0.5), (-0.88 * w, -0.78),
             (-0.66 * w, -0.98), (-0.36 * w, -1.08), (-0.001, -1.11)]
    xy = np.array(right + [(-x, y) for x, y in reversed(right)])
    return np.column_stack([xy, surface_z(xy[:, 0], xy[:, 1], w)])


# Right-half (and midline) landmark displacements of each AU at intensity 1, face units.
# Left-half displacements are the mirror images. Values follow the FACS descriptions of the
# appearance changes; magnitudes are chosen so a full-intensity AU is clearly visible.
_AU_MOTION: dict[str, dict[int, tuple[float, float, float]]] = {
    "AU1": {21: (0.01, -0.13, 0), 20: (0, -0.10, 0), 19: (0, -0.06, 0), 18: (0, -0.03, 0),
            17: (0, -0.01, 0)},
    "AU2": {17: (-0.01, -0.12, 0), 18: (0, -0.12, 0), 19: (0, -0.09, 0), 20: (0, -0.05, 0),
            21: (0, -0.02, 0), 37: (0, -0.01, 0)},
    "AU4": {17: (0.01, 0.04, 0), 18: (0.02, 0.07, 0), 19: (0.04, 0.1, 0),
            20: (0.06, 0.12, 0.02), 21: (0.07, 0.13, 0.03), 37: (0, 0.02, 0), 38: (0, 0.025, 0)},
    "AU5": {37: (0, -0.04, 0), 38: (0, -0.04, 0), 36: (0, -0.006, 0), 40: (0, 0.006, 0),
            41: (0, 0.006, 0)},
    "AU6": {40: (0, -0.016, 0), 41: (0, -0.018, 0), 36: (0, -0.01, 0), 17: (0, 0.015, 0),
            18: (0, 0.01, 0), 2: (-0.01, -0.01, 0), 3: (-0.01, -0.015, 0)},
    "AU7": {40: (0, -0.032, 0), 41: (0, -0.032, 0), 37: (0, 0.014, 0), 38: (0, 0.014, 0),
            36: (0.005, -0.005, 0)},
    "AU9": {31: (0.01, -0.045, 0), 32: (0, -0.04, 0), 33: (0, -0.035, 0), 30: (0, -0.015, 0),
            29: (0, -0.01, 0), 21: (0.02, 0.05, 0), 20: (0.01, 0.04, 0), 19: (0, 0.02, 0),
            49: (0, -0.03, 0), 50: (0, -0.04, 0), 51: (0, -0.045, 0), 61: (0, -0.03, 0),
            62: (0, -0.035, 0), 40: (0, -0.01, 0), 41: (0, -0.01, 0)},
    "AU10": {49: (0, -0.06, 0), 50: (0, -0.07, 0), 51: (0, -0.065, 0), 61: (0, -0.06, 0),
             62: (0, -0.06, 0), 48: (0, -0.02, 0), 60: (0, -0.02, 0), 31: (0, -0.015, 0),
             32: (0, -0.01, 0)},
    "AU12": {48: (-0.07, -0.085, -0.02), 60: (-0.06, -0.075, -0.02), 49: (-0.03, -0.035, 0),
             59: (-0.035, -0.05, 0), 61: (-0.02, -0.02, 0), 67: (-0.02, -0.045, 0),
             58: (-0.01, -0.02, 0), 50: (0, -0.01, 0), 40: (0, -0.004, 0), 41: (0, -0.004, 0),
             4: (-0.015, -0.01, 0), 5: (-0.01, 0, 0)},
    "AU14": {48: (0.025, -0.012, -0.02), 60: (0.02, -0.012, -0.02), 49: (0.01, 0, 0),
             59: (0.01, 0, 0)},
    "AU15": {48: (0, 0.07, 0), 60: (0, 0.06, 0), 59: (0, 0.03, 0), 49: (0, 0.02, 0),
             67: (0, 0.02, 0), 61: (0, 0.012, 0)},
    "AU16": {58: (0, 0.06, 0), 57: (0, 0.07, 0), 59: (0, 0.035, 0), 67: (0, 0.07, 0),
             66: (0, 0.08, 0), 48: (0, 0.01, 0)},
    "AU17": {58: (0, -0.03, 0.02), 57: (0, -0.035, 0.02), 59: (0, -0.02, 0),
             66: (0, -0.02, 0), 67: (0, -0.015, 0), 8: (0, -0.03, 0.02), 7: (0, -0.025, 0),
             50: (0, -0.01, 0), 51: (0, -0.01, 0)},
    "AU20": {48: (-0.08, 0.015, -0.02), 60: (-0.075, 0.015, -0.02), 49: (-0.04, 0.005, 0),
             59: (-0.04, 0.0, 0), 61: (-0.03, 0.005, 0), 67: (-0.03, 0, 0), 50: (-0.01, 0, 0),
             58: (-0.01, 0, 0)},
    "AU23": {49: (0.01, 0.035, 0), 50: (0, 0.045, 0), 51: (0, 0.04, 0), 59: (0.01, -0.04, 0),
             58: (0, -0.05, 0), 57: (0, -0.05, 0), 48: (0.04, 0, 0), 60: (0.035, 0, 0)},
    "AU26": {8: (0, 0.2, 0), 7: (0, 0.19, 0), 6: (0, 0.16, 0), 5: (0, 0.11, 0),
             4: (0, 0.06, 0), 3: (0, 0.02, 0), 57: (0, 0.2, 0), 58: (0.01, 0.19, 0),
             59: (0.015, 0.13, 0), 66: (0, 0.23, 0), 67: (0.01, 0.2, 0), 48: (0.03, 0.06, 0),
             60: (0.03, 0.06, 0), 61: (0, -0.01, 0), 62: (0, -0.012, 0)},
}


@functools.lru_cache(maxsize=1)
def au_motion_table() -> tuple[np.ndarray, np.ndarray]:
    """(right, left) displacement tables, each float64 (NUM_AUS, 68, 3) at intensity 1.

    `right` holds the motion produced by the AU acting on the subject's right half (midline
    landmarks get half of it), `left` the mirror image; a face with per-side intensities
    (r, l) moves by r * right + l * left.
    """
    right = np.zeros((NUM_AUS, NUM_POINTS, 3))
    left = np.zeros_like(right)
    midline = set(MIDLINE.tolist())
    for k, name in enumerate(AU_NAMES):
        for lm, (dx, dy, dz) in _AU_MOTION[name].items():
            if lm in midline:
                right[k, lm] = left[k, lm] = (0.0, 0.5 * dy, 0.5 * dz)
            else:
                right[k, lm] = (dx, dy, dz)
                left[k, MIRROR[lm]] = (-dx, dy, dz)
    right.setflags(write=False)
    left.setflags(write=False)
    return right, left


def au_displacements(au_right: np.ndarray, au_left: np.ndarray) -> np.ndarray:
    """Per-AU landmark motion (NUM_AUS, 68, 3) for per-side intensities (NUM_AUS,) each."""
    right, left = au_motion_table()
    return au_right[:, None, None] * right + au_left[:, None, None] * left


_LIP_PAIRS_UPPER = ((50, 61), (51, 62), (52, 63))
_LIP_PAIRS_LOWER = ((58, 67), (57, 66), (56, 65))
_MIN_LIP = 0.008  # thinnest lip (face units) that a pressed lip (AU23) may reach


def deform(neutral: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Neutral shape (68, 3) moved by all AUs (motion (NUM_AUS, 68, 3)); outer lip contours
    are kept outside the inner ones so strong lip pressing cannot turn a lip inside out."""
    shape = neutral + motion.sum(0)
    for outer, inner in _LIP_PAIRS_UPPER:
        shape[outer, 1] = min(shape[outer, 1], shape[inner, 1] - _MIN_LIP)
    for outer, inner in _LIP_PAIRS_LOWER:
        shape[outer, 1] = max(shape[outer, 1], shape[inner, 1] + _MIN_LIP)
    return shape


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """3x3 rotation (degrees) applied as R @ p: yaw turns the nose to image right for yaw > 0,
    pitch > 0 lifts the nose (looking up), roll > 0 turns the face clockwise in the image."""
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


@dataclasses.dataclass(frozen=True)
class Projection:
    """Weak-perspective camera: image = centre + scale * (R @ (p - pivot))[:2] (pixels).

    The head turns about `pivot` (the head centre), which lands on image point `centre`.
    """

    rot: np.ndarray
    scale: float
    centre: np.ndarray
    pivot: np.ndarray

    def __post_init__(self):
        # one affine map, so projecting a few points costs a single matmul and add
        matrix = np.ascontiguousarray(self.scale * self.rot[:2].T)
        object.__setattr__(self, "_matrix", matrix)
        object.__setattr__(self, "_offset", self.centre - self.pivot @ matrix)
        up, across = -self.rot[:2, 1], self.rot[:2, 0]
        object.__setattr__(self, "up", up / max(np.hypot(*up), 1e-9))
        object.__setattr__(self, "across", across / max(np.hypot(*across), 1e-9))
        object.__setattr__(self, "roll_deg", float(np.degrees(np.arctan2(across[1], across[0]))))

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Image (x, y) of face-frame points (..., 3)."""
        return points @ self._matrix + self._offset

    @property
    def matrix(self) -> np.ndarray:
        """(3, 2) map of face-frame displacements to pixel displacements."""
        return self._matrix

    def facing(self, normals: np.ndarray) -> np.ndarray:
        """Camera-facing component of face-frame unit normals (...,3) after rotation."""
        return normals @ self.rot[2]

    def direction(self, vector) -> np.ndarray:
        """Image direction (unit 2-vector) of a face-frame direction."""
        d = self.rot[:2] @ np.asarray(vector, dtype=np.float64)
        return d / max(np.linalg.norm(d), 1e-9)
