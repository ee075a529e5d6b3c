"""Impose a real dataset's class frequencies on a balanced one (so class balancing matters).

FERSynth draws classes evenly; AffectNet's manually annotated training set does not (happy is
36× contempt). `imbalance` subsamples a dataset so its class counts follow given frequencies,
keeping as many examples as the rarest-relative class allows.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ferjax.data.balance import ResampledMapDataset, class_counts, read_labels

# AffectNet manually annotated training set, canonical order (ferjax.labels): neutral, happy,
# sad, surprise, fear, disgust, anger, contempt.
AFFECTNET_TRAIN_COUNTS = (74874, 134415, 25459, 14090, 6378, 3803, 24882, 3750)

FREQUENCY_PRESETS = {"affectnet": AFFECTNET_TRAIN_COUNTS}


def resolve_frequencies(frequencies: str | Sequence[float]) -> np.ndarray:
    """A preset name ("affectnet") or per-class relative frequencies → float64 array."""
    if isinstance(frequencies, str):
        if frequencies not in FREQUENCY_PRESETS:
            raise ValueError(f"class frequencies {frequencies!r}: choose one of "
                             f"{sorted(FREQUENCY_PRESETS)} or give one number per class")
        frequencies = FREQUENCY_PRESETS[frequencies]
    freq = np.asarray(frequencies, np.float64)
    if freq.ndim != 1 or np.any(freq < 0) or not np.all(np.isfinite(freq)) or freq.sum() <= 0:
        raise ValueError(f"class frequencies {frequencies} must be finite, ≥ 0, not all 0")
    return freq


def imbalanced_counts(counts: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Largest per-class counts ≤ `counts` proportional to `frequencies` (≥ 1 where freq > 0).

    Args:
      counts: (K,) examples available per class.
      frequencies: (K,) relative frequencies.
    Returns:
      (K,) int64 counts to keep.
    """
    if counts.shape != frequencies.shape:
        raise ValueError(f"{len(frequencies)} class frequencies for {len(counts)} classes")
    wanted = frequencies > 0
    if np.any(counts[wanted] == 0):
        missing = np.flatnonzero(wanted & (counts == 0)).tolist()
        raise ValueError(f"classes {missing} have a frequency but no examples")
    scale = np.min(counts[wanted] / frequencies[wanted])
    keep = np.floor(scale * frequencies + 1e-9).astype(np.int64)
    return np.where(wanted, np.maximum(keep, 1), 0)


def imbalanced_plan(labels: Sequence[int], frequencies: str | Sequence[float],
                    seed: int) -> np.ndarray:
    """(M,) int64 source indices, class-major, of a subsample following `frequencies`.

    labels: (N,) class ids (negatives left out); frequencies: a preset name or one per class.
    """
    labels = np.asarray(labels, np.int64)
    freq = resolve_frequencies(frequencies)
    keep = imbalanced_counts(class_counts(labels, len(freq)), freq)
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), keep[c], replace=False)
              for c in range(len(freq))]
    return np.concatenate(chosen).astype(np.int64)


def imbalance(dataset: Any, frequencies: str | Sequence[float] = "affectnet", *,
              seed: int, labels: Sequence[int] | None = None) -> ResampledMapDataset:
    """The subsample of `dataset` whose class counts follow `frequencies` (no augmentation)."""
    labels = read_labels(dataset) if labels is None else np.asarray(labels)
    if len(labels) != len(dataset):
        raise ValueError(f"{len(labels)} labels for a dataset of {len(dataset)} records")
    return ResampledMapDataset(dataset, imbalanced_plan(labels, frequencies, seed), seed=seed)
