"""Geometric augmentation that keeps images, masks and landmarks consistent.

Images are (H, W, C) arrays; landmarks (68, 2) are (x, y) pixels in iBUG 300-W order.
"""

from __future__ import annotations

import numpy as np

from ferjax import ibug68

SPATIAL_KEYS = ("image", "mask", "face")


def crop(example: dict, top: int, left: int, height: int, width: int) -> dict:
    """Crops every spatial array to [top:top+height, left:left+width]; shifts landmarks."""
    _check_crop(*example["image"].shape[:2], height, width)
    out = dict(example)
    for key in SPATIAL_KEYS:
        if key in out:
            out[key] = out[key][top:top + height, left:left + width]
    if "landmarks" in out:
        out["landmarks"] = out["landmarks"] - np.array([left, top], np.float32)
    return out


def center_crop(example: dict, height: int, width: int) -> dict:
    top, left = center_crop_offsets(example["image"].shape[:2], height, width)
    return crop(example, top, left, height, width)


def random_crop_offsets(image_hw: tuple[int, int], height: int, width: int,
                        rng: np.random.Generator) -> tuple[int, int]:
    """Uniform (top, left) of a height × width crop of an image of size image_hw (pixels)."""
    h, w = image_hw
    _check_crop(h, w, height, width)
    return int(rng.integers(0, h - height + 1)), int(rng.integers(0, w - width + 1))


def center_crop_offsets(image_hw: tuple[int, int], height: int,
                        width: int) -> tuple[int, int]:
    """(top, left) of the centred height × width crop (pixels)."""
    h, w = image_hw
    _check_crop(h, w, height, width)
    return (h - height) // 2, (w - width) // 2


def _check_crop(h: int, w: int, height: int, width: int) -> None:
    if height > h or width > w:
        raise ValueError(f"config.data.crop_size=({height}, {width}) is larger than the stored "
                         f"image ({h}, {w})")


def random_crop(example: dict, height: int, width: int, rng: np.random.Generator) -> dict:
    top, left = random_crop_offsets(example["image"].shape[:2], height, width, rng)
    return crop(example, top, left, height, width)


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


def draw_brightness_contrast(rng: np.random.Generator, max_delta: float,
                             contrast_range: tuple[float, float]) -> tuple[float, float]:
    """(δ, f): brightness shift δ ~ U(−max_delta, max_delta), contrast factor f ~
    U(contrast_range); each is drawn only when its augmentation is on (else 0 and 1), in
    that order."""
    delta = float(rng.uniform(-max_delta, max_delta)) if max_delta else 0.0
    lo, hi = contrast_range
    factor = float(rng.uniform(lo, hi)) if (lo, hi) != (1.0, 1.0) else 1.0
    return delta, factor


def apply_brightness_contrast(image: np.ndarray, delta: float, factor: float,
                              use_delta: bool, use_factor: bool,
                              clip: bool = True) -> np.ndarray:
    """(x + δ − m)·f + m with m the per-channel mean of x + δ; a step whose augmentation is off
    is skipped (not applied as +0 or ×1, which would round).

    image: float32 (H, W, C), in [0, 1] when `clip`. Returns float32, clipped to [0, 1] when
    `clip` (pixel images), unclipped for standardised images.
    """
    out = image
    if use_delta:
        out = out + np.float32(delta)
    if use_factor:
        mean = out.mean(axis=(0, 1), keepdims=True)
        out = (out - mean) * np.float32(factor) + mean
    return (np.clip(out, 0.0, 1.0) if clip else out).astype(np.float32)


def adjust_brightness_contrast(image: np.ndarray, rng: np.random.Generator,
                               max_delta: float, contrast_range: tuple[float, float],
                               clip: bool = True) -> np.ndarray:
    """Random brightness shift δ ~ U(−max_delta, max_delta) (in the image's units), then a
    contrast factor f ~ U(contrast_range) about the per-channel mean: (x + δ − m)·f + m.

    image: float32 (H, W, C), in [0, 1] when `clip`. Returns float32, clipped to [0, 1] when
    `clip` (pixel images), unclipped for standardised images.
    """
    delta, factor = draw_brightness_contrast(rng, max_delta, contrast_range)
    return apply_brightness_contrast(image, delta, factor, bool(max_delta),
                                     tuple(contrast_range) != (1.0, 1.0), clip)
