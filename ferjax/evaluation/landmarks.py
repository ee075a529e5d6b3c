"""Landmark localisation metrics: NME, failure rate, AUC and the cumulative error distribution.

Host-side NumPy over a whole evaluation set (the per-image errors are collected first), as the
300-W protocol that DAN and EmotionalDAN report.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ferjax.losses.landmarks import NORMALISATIONS

DEFAULT_THRESHOLD = 0.08


def per_image_nme(predicted: np.ndarray, target: np.ndarray,
                  normalisation: str = "inter_pupil") -> np.ndarray:
    """Per-image normalised mean error (N,) of predicted vs target landmarks (N, 68, 2) pixels.

    "inter_pupil" divides by the eye-centroid distance (points 36–41, 42–47); "inter_ocular" by
    the outer-eye-corner distance (points 36, 45).
    """
    predicted = np.asarray(predicted, np.float64)
    target = np.asarray(target, np.float64)
    if predicted.shape != target.shape or predicted.shape[-2:] != (68, 2):
        raise ValueError(f"landmarks must be (N, 68, 2) and match; got predicted "
                         f"{predicted.shape}, target {target.shape}")
    if normalisation == "inter_pupil":
        distance = np.linalg.norm(target[:, 36:42].mean(1) - target[:, 42:48].mean(1), axis=-1)
    elif normalisation == "inter_ocular":
        distance = np.linalg.norm(target[:, 36] - target[:, 45], axis=-1)
    else:
        raise ValueError(f"normalisation {normalisation!r}; choose one of {list(NORMALISATIONS)}")
    return np.linalg.norm(predicted - target, axis=-1).mean(-1) / distance


def _check_errors(errors) -> np.ndarray:
    errors = np.asarray(errors, np.float64).ravel()
    if errors.size == 0 or not np.all(np.isfinite(errors)) or np.any(errors < 0):
        raise ValueError("errors must be a non-empty array of finite non-negative values")
    return errors


def failure_rate(errors, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Fraction of images whose error exceeds `threshold`."""
    return float(np.mean(_check_errors(errors) > threshold))


def auc(errors, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Area under the cumulative error distribution on [0, threshold], divided by threshold.

    Computed exactly: ∫_0^θ CED(x) dx = mean_i max(0, θ − e_i), so no integration grid (the
    300-W scripts integrate a 1e-4 grid with Simpson's rule, which this equals to ~1e-4).
    """
    errors = _check_errors(errors)
    return float(np.mean(np.clip(threshold - errors, 0.0, threshold)) / threshold)


def cumulative_error_distribution(errors, threshold: float = DEFAULT_THRESHOLD,
                                  num_points: int = 161):
    """CED curve: (x (num_points,), fraction of images with error ≤ x (num_points,))."""
    errors = np.sort(_check_errors(errors))
    x = np.linspace(0.0, threshold, num_points)
    return x, np.searchsorted(errors, x, side="right") / errors.size


def landmark_summary(predicted: np.ndarray, target: np.ndarray,
                     threshold: float = DEFAULT_THRESHOLD) -> Mapping[str, float]:
    """Mean NME, failure rate and AUC@threshold for both normalisations, keyed by name."""
    summary = {}
    for normalisation in NORMALISATIONS:
        errors = per_image_nme(predicted, target, normalisation)
        summary[f"nme_{normalisation}"] = float(errors.mean())
        summary[f"failure_rate@{threshold:g}_{normalisation}"] = failure_rate(errors, threshold)
        summary[f"auc@{threshold:g}_{normalisation}"] = auc(errors, threshold)
    return summary
