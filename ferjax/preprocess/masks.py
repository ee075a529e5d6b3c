"""Face masks from the convex hull of the landmarks (FERAtt's face-only targets)."""

from __future__ import annotations

import cv2
import numpy as np

# Landmarks are drawn with 4 fractional bits so sub-pixel positions are honoured.
_SHIFT = 4


def hull_mask(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Mask uint8 (H, W, 1): 255 inside the convex hull of landmarks (K, 2) in (x, y) pixels
    (pixel centres at integers), 0 outside. Points may lie outside the image (clipped)."""
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.ndim != 2 or landmarks.shape[1] != 2 or len(landmarks) < 3:
        raise ValueError(f"hull mask needs landmarks (K >= 3, 2), got {landmarks.shape}")
    if not np.isfinite(landmarks).all():
        raise ValueError("hull mask landmarks contain NaN or infinity")
    mask = np.zeros(size, np.uint8)
    fixed = np.round(landmarks * (1 << _SHIFT)).astype(np.int32)
    hull = cv2.convexHull(fixed)
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_8, shift=_SHIFT)
    return mask[..., None]
