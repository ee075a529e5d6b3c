"""Subject-disjoint splits and folds of a FERSynth dataset (pure functions of the config)."""

from __future__ import annotations

import numpy as np

from ferjax.synth.config import SynthConfig

SPLITS = ("train", "validation", "test")


def split_subjects(config: SynthConfig, split: str) -> np.ndarray:
    """Subject ids (int64, ascending) of `split`: 'train', 'validation', 'test' or 'all'.

    Subjects are drawn independently, so contiguous id ranges are as good as a shuffle:
    train = [0, n_train), validation = the next n_val ids, test = the rest.
    """
    n = config.num_subjects
    n_train = max(1, int(round(config.split_fractions[0] * n)))
    n_val = min(n - n_train, int(round(config.split_fractions[1] * n)))
    bounds = {"train": (0, n_train), "validation": (n_train, n_train + n_val),
              "test": (n_train + n_val, n), "all": (0, n)}
    if split not in bounds:
        raise ValueError(f"unknown split {split!r}; expected one of {list(bounds)}")
    lo, hi = bounds[split]
    return np.arange(lo, hi, dtype=np.int64)


def subject_fold(config: SynthConfig, subject_id: int) -> int:
    """The subject-disjoint CV fold of a subject (ids interleave across folds)."""
    return int(subject_id) % config.num_folds
