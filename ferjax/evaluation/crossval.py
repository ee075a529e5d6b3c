"""Cross-validation folds."""

from __future__ import annotations

import numpy as np


def leave_n_subjects_out_folds(subject_ids, n: int, seed: int) -> np.ndarray:
    """Subject-independent folds holding out n subjects each (FERAtt's leave-10-subjects-out).

    The distinct subjects are shuffled with `seed` and cut into consecutive groups of n (the
    last group takes the remainder, so it may be smaller); every example gets its subject's
    group index.

    Args:
      subject_ids: (N,) integer subject ids; -1 (unknown subject) is an error, since such
        examples cannot be kept subject-disjoint.
      n: subjects per fold, ≥ 1.
      seed: shuffling seed.
    Returns:
      (N,) int64 fold index in [0, ceil(S / n)), S = number of distinct subjects.
    """
    ids = np.asarray(subject_ids)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError(f"subject_ids must be a non-empty 1-D array, got shape {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"subject_ids must be integers, got dtype {ids.dtype}")
    if np.any(ids < 0):
        raise ValueError(f"{int(np.sum(ids < 0))} examples have an unknown subject id (-1); "
                         "subject-independent folds need every subject")
    if n < 1:
        raise ValueError(f"n (subjects per fold) must be >= 1, got {n}")
    subjects, inverse = np.unique(ids, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(subjects))
    fold_of_subject = np.empty(len(subjects), np.int64)
    fold_of_subject[order] = np.arange(len(subjects)) // n
    return fold_of_subject[inverse]
