"""Thin anti-aliased drawing helpers over OpenCV (sub-pixel coordinates, 1 or 3 channels).

OpenCV anti-aliases only 8-bit images, so every layer is uint8; coordinates are passed with 4
fractional bits (shift=4) so shapes move smoothly by fractions of a pixel.
"""

from __future__ import annotations

import cv2
import numpy as np

LINE = cv2.LINE_AA
SHIFT = 4
_ONE = 1 << SHIFT
_LUMA = np.array([0.299, 0.587, 0.114])


def fixed(points) -> np.ndarray:
    """Pixel coordinates (..., 2) as OpenCV fixed-point int32 (N, 1, 2)."""
    # +0.5 then truncation rounds every on-image (non-negative) coordinate; off-image ones
    # may be off by 1/16 pixel, which cannot show.
    return (np.asarray(points, dtype=np.float64) * _ONE + 0.5).astype(np.int32).reshape(-1, 1, 2)


def to_channels(rgb, channels: int) -> np.ndarray:
    """An RGB colour (3,) as `channels` values: itself, or its luma for grey images."""
    rgb = np.asarray(rgb, dtype=np.float32)
    return rgb if channels == 3 else np.array([rgb @ _LUMA], dtype=np.float32)


def colour(rgb, channels: int) -> tuple[float, ...]:
    """An RGB colour as the scalar tuple OpenCV expects for a `channels`-channel image."""
    r, g, b = (min(255.0, max(0.0, float(v))) for v in rgb)
    if channels == 3:
        return (r, g, b)
    return (0.299 * r + 0.587 * g + 0.114 * b,)


def fill(image: np.ndarray, points, value) -> None:
    """Anti-aliased filled polygon; `value` is a colour tuple (or a scalar for 1 channel)."""
    cv2.fillPoly(image, [fixed(points)], _as_tuple(value), LINE, SHIFT)


def stroke(image: np.ndarray, points, value, width_px: float, closed: bool = False) -> None:
    """Anti-aliased polyline of about `width_px` pixels (at least 1)."""
    thickness = max(1, int(round(width_px)))
    cv2.polylines(image, [fixed(points)], closed, _as_tuple(value), thickness, LINE, SHIFT)


def ellipse(image: np.ndarray, centre, axes, angle_deg: float, value) -> None:
    """Anti-aliased filled ellipse; `axes` are the semi-axes in pixels."""
    cx, cy = centre
    ax, ay = axes
    cv2.ellipse(image, (int(cx * _ONE + 0.5), int(cy * _ONE + 0.5)),
                (int(max(ax, 0.05) * _ONE + 0.5), int(max(ay, 0.05) * _ONE + 0.5)),
                float(angle_deg), 0, 360, _as_tuple(value), -1, LINE, SHIFT)


def hull(points) -> np.ndarray:
    """Convex hull (K, 2) of pixel points (N, 2)."""
    return cv2.convexHull(np.asarray(points, dtype=np.float32)).reshape(-1, 2)


def _as_tuple(value):
    if isinstance(value, tuple):
        return value
    return (float(value),)
