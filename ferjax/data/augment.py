"""Geometric augmentation that keeps images, masks and landmarks consistent.

Images are (H, W, C) arrays; landmarks (68, 2) are (x, y) pixels in iBUG 300-W order.
"""

from __future__ import annotations

import numpy as np

from ferjax import ibug68


SPATIAL_KEYS = ("image", "mask", "face")


def crop(example: dict, top: int, left: int, height: int, width: int) -> dict:
    """Crops every spatial array to [top:top+height, left:left+width]; shifts landmarks."""
    h, w = example["image"].shape[:2]
    if height > h or width > w:
        raise ValueError(f"config.data.crop_size=({height}, {width}) is larger than the stored "
                         f"image ({h}, {w})")
    out = dict(example)
    for key in SPATIAL_KEYS:
        if key in out:
            out[key] = out[key][top:top + height, left:left + width]
    if "landmarks" in out:
        out["landmarks"] = out["landmarks"] - np.array([left, top], np.float32)
    return out


def center_crop(example: dict, height: int, width: int) -> dict:
    h, w = example["image"].shape[:2]
    return crop(example, (h - height) // 2, (w - width) // 2, height, width)


def random_crop(example: dict, height: int, width: int, rng: np.random.Generator) -> dict:
    h, w = example["image"].shape[:2]
    if height > h or width > w:
        return crop(example, 0, 0, height, width)  # raises with the sizes
    return crop(example, int(rng.integers(0, h - height + 1)), int(rng.integers(0, w - width + 1)),
                height, width)


def horizontal_flip(example: dict) -> dict:
    """Mirrors spatial arrays; landmarks are mirrored (x -> W - 1 - x) and relabelled."""
    out = dict(example)
    width = out["image"].shape[1]
    for key in SPATIAL_KEYS:
        if key in out:
            out[key] = out[key][:, ::-1]
    if "landmarks" in out:
        lm = out["landmarks"][ibug68.MIRROR].copy()
        lm[:, 0] = (width - 1) - lm[:, 0]
        out["landmarks"] = lm
    return out


def adjust_brightness_contrast(image: np.ndarray, rng: np.random.Generator,
                               max_delta: float, contrast_range: tuple[float, float],
                               clip: bool = True) -> np.ndarray:
    """Random brightness shift δ ~ U(−max_delta, max_delta) (in the image's units), then a
    contrast factor f ~ U(contrast_range) about the per-channel mean: (x + δ − m)·f + m.

    image: float32 (H, W, C), in [0, 1] when `clip`. Returns float32, clipped to [0, 1] when
    `clip` (pixel images), unclipped for standardised images.
    """
    out = image
    if max_delta:
        out = out + rng.uniform(-max_delta, max_delta)
    lo, hi = contrast_range
    if (lo, hi) != (1.0, 1.0):
        mean = out.mean(axis=(0, 1), keepdims=True)
        out = (out - mean) * rng.uniform(lo, hi) + mean
    return (np.clip(out, 0.0, 1.0) if clip else out).astype(np.float32)
