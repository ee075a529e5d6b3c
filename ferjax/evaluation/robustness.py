"""FERAtt's noise-robustness protocol and attention-image checks against masks and AU regions."""

from __future__ import annotations

from typing import Sequence

import numpy as np

# Paper §4.4 (Fig. 7–9): zero-mean white Gaussian noise levels, in [0, 1] image units.
NOISE_SIGMAS = (0.01, 0.05, 0.07, 0.09, 0.1, 0.2, 0.3)


def add_gaussian_noise(images: np.ndarray, sigma: float, rng: np.random.Generator,
                       clip: tuple[float, float] | None = (0.0, 1.0)) -> np.ndarray:
    """images (..., H, W, C) in [0, 1] plus N(0, σ²) per value, clipped back to `clip` (the
    valid pixel range; None keeps the raw sum). float32 of the same shape."""
    if sigma < 0:
        raise ValueError(f"noise sigma must be >= 0, got {sigma}")
    noisy = np.asarray(images, np.float32) + rng.normal(0.0, sigma, np.shape(images))
    return (np.clip(noisy, *clip) if clip is not None else noisy).astype(np.float32)


def attention_mask_iou(attention_image: np.ndarray, mask: np.ndarray,
                       threshold: float = 0.1) -> np.ndarray:
    """IoU between the support of I_att and the true face mask, per example.

    attention_image (B, H, W, C) ≥ 0 in image units (FERAtt's I_att aims at the face on black,
    so its support is where the channel mean exceeds `threshold`); mask (B, H, W[, 1]) in
    [0, 1] (face > 0.5). Returns (B,) IoU in [0, 1] (1 when both are empty).
    """
    predicted = np.mean(np.asarray(attention_image), axis=-1) > threshold
    truth = np.asarray(mask)
    truth = (truth[..., 0] if truth.ndim == 4 else truth) > 0.5
    if predicted.shape != truth.shape:
        raise ValueError(f"attention image {predicted.shape} and mask {truth.shape} differ")
    inter = np.sum(predicted & truth, axis=(1, 2))
    union = np.sum(predicted | truth, axis=(1, 2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def au_attention_share(attention: np.ndarray, au_regions: np.ndarray, num_aus: int,
                       cell: int = 4) -> np.ndarray:
    """Share of the attention mass that falls where each action unit changed the face.

    attention (B, H, W) ≥ 0 (e.g. I_att's channel mean); au_regions (B, ceil(H/cell),
    ceil(W/cell)) uint16 with bit k set where AU k changed the pixels of that cell (FERSynth).
    Returns (B, num_aus): Σ attention inside AU k's cells / Σ attention (0 for empty maps).
    """
    attention = np.asarray(attention, np.float64)
    b, h, w = attention.shape
    regions = np.asarray(au_regions)
    if regions.shape != (b, -(-h // cell), -(-w // cell)):
        raise ValueError(f"au_regions shape {regions.shape} does not tile attention "
                         f"{attention.shape} with {cell}×{cell} cells")
    full = np.repeat(np.repeat(regions, cell, axis=1), cell, axis=2)[:, :h, :w].astype(np.int64)
    total = attention.sum(axis=(1, 2))
    shares = np.stack([(attention * ((full >> k) & 1)).sum(axis=(1, 2)) for k in range(num_aus)],
                      axis=-1)
    return np.where(total[:, None] > 0, shares / np.maximum(total, 1e-12)[:, None], 0.0)


def class_au_share(attention_image: np.ndarray, au_regions: Sequence[np.ndarray],
                   labels: np.ndarray, class_names: Sequence[str]) -> dict | None:
    """Mean share of I_att mass inside the AU regions of each example's class (FACS/EMFACS AUs
    of FERSynth), and the share a uniform map would get (the regions' area fraction).

    attention_image (N, H, W, C) ≥ 0; au_regions: N FERSynth `au_regions` bit maps; labels (N,)
    class ids into class_names. Classes without AUs (neutral) are skipped; None when no example
    has any.
    """
    from ferjax import synth  # only FERSynth records carry AU regions

    att = np.asarray(attention_image).mean(axis=-1)
    shares, areas = [], []
    for a, regions, label in zip(att, au_regions, labels):
        aus = [synth.au_index(name)
               for name in synth.EMOTION_AUS.get(class_names[int(label)], ())]
        if not aus:
            continue
        share = au_attention_share(a[None], np.asarray(regions)[None], synth.NUM_AUS)[0]
        cells = np.asarray(regions).astype(np.int64)
        union = np.zeros_like(cells, bool)
        for k in aus:
            union |= ((cells >> k) & 1).astype(bool)
        shares.append(min(1.0, float(sum(share[k] for k in aus))))
        areas.append(float(union.mean()))
    if not shares:
        return None
    return {"attention_share": float(np.mean(shares)), "uniform_share": float(np.mean(areas))}
