"""The compositing renderer as pure functions of their inputs and a numpy Generator."""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from ferjax.data.composite.background_sources import as_rgb
from ferjax.data.composite.settings import CompositeSettings


def sample_affine(rng: np.random.Generator, settings: CompositeSettings) -> np.ndarray:
    """Random 2×3 affine map of the canvas: scale, flip, rotation and translation about the
    centre, followed by a 3-point affine warp (each point moved by up to max_warp·size)."""
    size, canvas = settings.render_size, settings.canvas_size
    centre = canvas / 2.0
    scale = rng.uniform(1 - settings.scale, 1 + settings.scale)
    flip = -1.0 if rng.random() < settings.flip_prob else 1.0
    theta = math.radians(rng.uniform(-settings.max_rotation, settings.max_rotation))
    shift = rng.uniform(-settings.max_translation, settings.max_translation, 2) * size
    cos, sin = math.cos(theta) * scale, math.sin(theta) * scale
    linear = np.array([[cos * flip, -sin], [sin * flip, cos]])
    similarity = np.eye(3)
    similarity[:2, :2] = linear
    similarity[:2, 2] = centre + shift - linear @ np.array([centre, centre])
    src = np.float32([[0, 0], [canvas, 0], [0, canvas]])
    dst = src + rng.uniform(-settings.max_warp, settings.max_warp, (3, 2)).astype(np.float32) * size
    warp = np.eye(3)
    warp[:2] = cv2.getAffineTransform(src, dst)
    return (warp @ similarity)[:2]


def clean_mask(mask: np.ndarray, kind: str = "code") -> np.ndarray:
    """Close small gaps, erode the boundary and fill holes. bool (H, W) → bool.

    "code" (the authors' `filtermask`): close and erode with a 7×7 square, then fill holes with
    a 7×7 connectivity structure (the mask shrinks by 3 pixels per side). "light": close with a
    5×5 ellipse, erode with a 3×3 square, fill holes with the default structure (1 pixel)."""
    m = mask.astype(np.uint8)
    if kind == "code":
        square = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))
        m = cv2.erode(cv2.morphologyEx(m, cv2.MORPH_CLOSE, square), square)
        return ndimage.binary_fill_holes(m > 0, structure=np.ones((7, 7)))
    if kind == "light":
        ellipse = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        m = cv2.erode(cv2.morphologyEx(m, cv2.MORPH_CLOSE, ellipse), np.ones((3, 3), np.uint8))
        return ndimage.binary_fill_holes(m > 0)
    raise ValueError(f"clean_mask: unknown kind {kind!r}")


def code_minmax_norm(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The authors' `norm`: per channel (x − min)/max with min and max over the mask (all pixels
    without one), times 255, truncated to uint8. Note the division by max, not max − min, as
    the code. Pixels outside the mask that fall below the mask's minimum become 0 (the code's
    uint8 cast of a negative value is undefined). uint8 (H, W, C), mask bool (H, W) → uint8."""
    out = np.asarray(image, np.float64).copy()
    for c in range(out.shape[-1]):
        channel = out[..., c]
        inside = channel[mask] if mask is not None else channel
        if inside.size == 0:
            return np.asarray(image, np.uint8)
        low, high = inside.min(), inside.max()
        out[..., c] = (channel - low) / high if high > 0 else 0.0
    return np.clip(out * 255.0, 0, 255).astype(np.uint8)


def match_luminance(face: np.ndarray, mask: np.ndarray, background: np.ndarray,
                    clip: tuple[float, float] = (0.5, 1.5),
                    l_range: tuple[float, float] = (10.0, 90.0)) -> tuple[np.ndarray, float]:
    """Scales the face's Lab L channel by w = clip(mean L_background / mean L_face, clip) where
    both means run over the mask, then clips L·w to l_range (Lab L units 0..100; the code's
    [10, 90], (0, 100) for no clip). face/background uint8 RGB (H, W, 3), mask bool (H, W).
    Returns (adjusted face uint8 RGB, w); w = 1 for an empty mask."""
    if not mask.any():
        return face, 1.0
    face_lab = cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float32)
    back_l = cv2.cvtColor(background, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    face_mean = float(face_lab[..., 0][mask].mean())
    ratio = float(back_l[mask].mean()) / face_mean if face_mean > 0 else clip[1]
    factor = float(np.clip(ratio, *clip))
    # OpenCV's 8-bit Lab stores L·255/100.
    low, high = (bound * 255.0 / 100.0 for bound in l_range)
    face_lab[..., 0] = np.clip(face_lab[..., 0] * factor, low, high)
    return cv2.cvtColor(face_lab.astype(np.uint8), cv2.COLOR_LAB2RGB), factor


def _transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_cell_bits(regions: np.ndarray, face_shape: tuple[int, int], matrix: np.ndarray,
                   settings: CompositeSettings, cell: int = 4) -> np.ndarray:
    """Carries a per-cell bit map (e.g. FERSynth's au_regions, uint16 (ceil(H/cell),
    ceil(W/cell)) over the face image) through the renderer's geometry: expanded to pixels,
    resized and warped with nearest-neighbour sampling like the mask, then OR-pooled back to
    cells of the output image. Returns uint16 (ceil(S/cell), ceil(S/cell))."""
    h, w = face_shape
    full = np.repeat(np.repeat(np.asarray(regions, np.uint16), cell, 0), cell, 1)[:h, :w]
    size, canvas, out, pad = (settings.render_size, settings.canvas_size, settings.output_size,
                              settings.pad)
    full = cv2.resize(full, (size, size), interpolation=cv2.INTER_NEAREST)
    full = cv2.copyMakeBorder(full, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    full = cv2.warpAffine(full, matrix, (canvas, canvas), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    full = cv2.resize(full, (out, out), interpolation=cv2.INTER_NEAREST)
    cells = -(-out // cell)
    full = np.pad(full, ((0, cells * cell - out), (0, cells * cell - out)))
    return np.bitwise_or.reduce(full.reshape(cells, cell, cells, cell), axis=(1, 3)).astype(
        np.uint16)


def _photometric(image: np.ndarray, rng: np.random.Generator, settings: CompositeSettings):
    """CLAHE, noise and blur on a uint8 (H, W) grey or (H, W, 3) RGB image."""
    if rng.random() < settings.clahe_prob:
        clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
        if image.ndim == 2:
            image = clahe.apply(image)
        else:
            lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
            lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
            image = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    out = image.astype(np.float32)
    if rng.random() < settings.noise_prob:
        sigma = rng.uniform(0, settings.noise_sigma_max) * 255.0
        out = out + rng.normal(0, sigma, out.shape).astype(np.float32)
    if rng.random() < settings.blur_prob:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.1, settings.blur_sigma_max))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _finish_channels(image: np.ndarray, settings: CompositeSettings) -> np.ndarray:
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image, settings.channels, axis=-1) if image.shape[-1] == 1 else image


def render(face: np.ndarray, mask: np.ndarray, background: np.ndarray,
           rng: np.random.Generator, settings: CompositeSettings,
           landmarks: np.ndarray | None = None,
           au_regions: np.ndarray | None = None) -> dict[str, Any]:
    """Composites one face on one background.

    Args:
      face: uint8 (H, W, 1|3) face image. mask: uint8 (H, W[, 1]), face where > 127.
      background: uint8 (canvas, canvas, 3) RGB, canvas = settings.canvas_size.
      landmarks: optional (L, 2) (x, y) pixel coordinates in `face`'s frame (NaN = absent).
      au_regions: optional uint16 (ceil(H/4), ceil(W/4)) AU bit map of `face` (FERSynth).
    Returns a dict with, at output_size S and C = settings.channels:
      "image" uint8 (S, S, C) composite; "face" uint8 (S, S, C) warped face on black without
      the luminance change; "mask" uint8 (S, S, 1) in {0, 255}; "landmarks" (L, 2) in the
      output frame and "au_regions" (ceil(S/4), ceil(S/4)) (when given); "matrix" (2, 3)
      canvas affine; "luminance_factor" float.
    """
    face = as_rgb(face, "composite face image")
    mask = np.asarray(mask)
    mask = mask[..., 0] if mask.ndim == 3 else mask
    if mask.shape != face.shape[:2]:
        raise ValueError(f"composite: mask shape {mask.shape} does not match face image "
                         f"{face.shape[:2]}")
    canvas, size = settings.canvas_size, settings.render_size
    background = as_rgb(np.asarray(background), "composite background")
    if background.shape[:2] != (canvas, canvas):
        raise ValueError(f"composite: background must be {canvas}×{canvas}, got "
                         f"{background.shape[:2]}")

    face_r = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    mask_r = cv2.resize((mask > 127).astype(np.uint8) * 255, (size, size),
                        interpolation=cv2.INTER_NEAREST)
    if settings.minmax_norm:
        face_r = code_minmax_norm(face_r, mask_r > 127)
        background = code_minmax_norm(background)
    pad = settings.pad
    face_c = cv2.copyMakeBorder(face_r, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    mask_c = cv2.copyMakeBorder(mask_r, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)

    matrix = sample_affine(rng, settings)
    warped_face = cv2.warpAffine(face_c, matrix, (canvas, canvas), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    warped_mask = cv2.warpAffine(mask_c, matrix, (canvas, canvas), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 127
    face_mask = clean_mask(warped_mask, settings.mask_cleaning)

    lit_face, factor = match_luminance(warped_face, face_mask, background,
                                       settings.luminance_clip, settings.luminance_l_range)
    k = settings.matte_kernel
    alpha = cv2.GaussianBlur(face_mask.astype(np.float32), (k, k), 0)[..., None]
    composite = background.astype(np.float32) * (1 - alpha) + lit_face.astype(np.float32) * alpha
    composite = np.clip(np.rint(composite), 0, 255).astype(np.uint8)
    target = warped_face * face_mask[..., None].astype(np.uint8)

    if settings.grey:
        composite = cv2.cvtColor(composite, cv2.COLOR_RGB2GRAY)
        target = cv2.cvtColor(target, cv2.COLOR_RGB2GRAY)
    out = settings.output_size
    composite = cv2.resize(composite, (out, out), interpolation=cv2.INTER_AREA)
    target = cv2.resize(target, (out, out), interpolation=cv2.INTER_AREA)
    out_mask = cv2.resize(face_mask.astype(np.uint8) * 255, (out, out),
                          interpolation=cv2.INTER_AREA) > 127
    composite = _photometric(composite, rng, settings)

    result = {
        "image": _finish_channels(composite, settings),
        "face": _finish_channels(target, settings),
        "mask": (out_mask[..., None] * 255).astype(np.uint8),
        "matrix": matrix,
        "luminance_factor": factor,
    }
    if landmarks is not None:
        points = np.asarray(landmarks, np.float64)
        points = points * np.array([size / face.shape[1], size / face.shape[0]]) + pad
        result["landmarks"] = (_transform_points(points, matrix) * (out / canvas)).astype(
            np.float32)
    if au_regions is not None:
        result["au_regions"] = warp_cell_bits(au_regions, face.shape[:2], matrix, settings)
    return result
