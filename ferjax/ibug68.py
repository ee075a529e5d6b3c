"""The iBUG 300-W 68-point landmark scheme every ferjax landmark array follows.

Landmarks are float (68, 2) arrays of (x, y) pixel coordinates (or (68, 3) model points),
0-based in iBUG order: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67. "Right"
and "left" are the subject's: the subject's right eye (36-41) is on the image's left.
"""

from __future__ import annotations

import numpy as np

NUM_POINTS = 68

# MIRROR[i]: the point that takes point i's place in the mirror image of the face, so that
# `landmarks[MIRROR]` relabels a horizontally flipped shape. An involution; midline points
# (nose bridge, chin, lip centres) map to themselves.
MIRROR = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])

# Points on the vertical midline of the face (their own mirror images).
MIDLINE = np.flatnonzero(MIRROR == np.arange(NUM_POINTS))

RIGHT_EYE = slice(36, 42)  # the subject's right eye, on the image's left
LEFT_EYE = slice(42, 48)

GROUPS = {  # facial feature groups
    "jaw": np.arange(0, 17), "right_brow": np.arange(17, 22), "left_brow": np.arange(22, 27),
    "nose": np.arange(27, 36), "right_eye": np.arange(36, 42), "left_eye": np.arange(42, 48),
    "mouth": np.arange(48, 68),
}
