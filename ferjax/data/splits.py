"""Evaluation protocols: folds as pure functions of subject ids, the Protocol record datasets
declare, and the cross-validation folds of config.data (train/eval sources of a fold).

Fold functions take an int array of per-example subject ids (shape (N,)) and return an int64
array (N,) of fold indices. All subject-disjoint schemes order subjects by id and cut the
sorted list into contiguous blocks, so k-fold, leave-N-subjects-out and leave-one-subject-out
agree with each other (LOSO = leave-1-subject-out) and with Sun et al.'s RaFD ranges.
Unknown subjects (-1) are an error: they cannot be placed subject-independently.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from ferjax.data import sources

# Sun et al.: five subject-disjoint RaFD folds by model id range (inclusive).
SUN_RAFD_RANGES: tuple[tuple[int, int], ...] = ((1, 15), (16, 29), (30, 43), (44, 57), (58, 73))


def _known_subjects(subject_ids) -> np.ndarray:
    ids = np.asarray(subject_ids, np.int64)
    if ids.ndim != 1:
        raise ValueError(f"subject_ids must be 1-D, got shape {ids.shape}")
    if (ids < 0).any():
        raise ValueError(f"{int((ids < 0).sum())} examples have unknown subject id -1; "
                         "subject-independent folds need every subject id")
    return ids


def _folds_from_blocks(ids: np.ndarray, blocks: Sequence[np.ndarray]) -> np.ndarray:
    fold_of = {int(s): f for f, block in enumerate(blocks) for s in block}
    return np.array([fold_of[int(s)] for s in ids], np.int64)


def subject_kfold(subject_ids, k: int) -> np.ndarray:
    """k subject-disjoint folds: sorted unique subjects cut into k contiguous blocks whose sizes
    differ by at most one (numpy.array_split). (N,) -> (N,) fold in [0, k)."""
    ids = _known_subjects(subject_ids)
    subjects = np.unique(ids)
    if not 1 <= k <= len(subjects):
        raise ValueError(f"k={k}: need 1 <= k <= number of subjects ({len(subjects)})")
    return _folds_from_blocks(ids, np.array_split(subjects, k))


def leave_n_subjects_out(subject_ids, n: int) -> np.ndarray:
    """Folds of n consecutive subjects (sorted by id; the last fold may hold fewer):
    FERAtt's leave-10-subjects-out is n=10. (N,) -> (N,) fold in [0, ceil(S/n))."""
    ids = _known_subjects(subject_ids)
    if n < 1:
        raise ValueError(f"n={n}: must be >= 1")
    subjects = np.unique(ids)
    return _folds_from_blocks(ids, [subjects[i:i + n] for i in range(0, len(subjects), n)])


def leave_one_subject_out(subject_ids) -> np.ndarray:
    """One fold per subject (JAFFE's usual protocol): fold = rank of the subject id."""
    return leave_n_subjects_out(subject_ids, 1)


def folds_by_subject_ranges(subject_ids, ranges: Sequence[tuple[int, int]]) -> np.ndarray:
    """Fold f holds subjects with ranges[f][0] <= id <= ranges[f][1]; an id in no range is an
    error naming it."""
    ids = _known_subjects(subject_ids)
    folds = np.full(ids.shape, -1, np.int64)
    for f, (lo, hi) in enumerate(ranges):
        folds[(ids >= lo) & (ids <= hi)] = f
    if (folds < 0).any():
        raise ValueError(f"subject ids {sorted(set(ids[folds < 0].tolist()))} fall in none of "
                         f"the ranges {list(ranges)}")
    return folds


def sun_rafd_folds(subject_ids) -> np.ndarray:
    """Sun et al.'s five RaFD folds (model ids 1-15, 16-29, 30-43, 44-57, 58-73)."""
    return folds_by_subject_ranges(subject_ids, SUN_RAFD_RANGES)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How ferjax evaluates on a dataset: train/test splits of the prepared data (and the
    validation split selection uses, where the protocol has one), or k folds of the `fold`
    feature (train split) when kind == 'folds'. Each dataset declares its own as
    PROTOCOL in ferjax/datasets/<name>/__init__.py (ferjax.data.builders.protocol)."""
    dataset: str
    kind: str  # "official" | "folds"
    train_split: str = "train"
    test_split: str | None = None
    num_folds: int | None = None
    note: str = ""
    validation_split: str | None = None  # the split model selection uses, when it has one


def train_eval_sources(data_cfg: Mapping[str, Any]):
    """(train, eval) record sources of config.data: its train_split and eval_split, or with
    config.data.fold >= 0 the other folds and that fold of its cv_split."""
    fold = int(data_cfg.get("fold", -1))
    if fold < 0:
        return (sources.open_split(data_cfg, data_cfg["train_split"]),
                sources.open_split(data_cfg, data_cfg["eval_split"]))
    pool = sources.open_split(data_cfg, data_cfg["cv_split"])
    folds, num_folds = cv_folds(data_cfg, pool)
    if fold >= num_folds:
        raise ValueError(f"config.data.fold={fold} must be < the number of folds, {num_folds}")
    return (sources.SubsetSource(pool, np.flatnonzero(folds != fold)),
            sources.SubsetSource(pool, np.flatnonzero(folds == fold)))


def cv_folds(data_cfg: Mapping[str, Any], pool) -> tuple[np.ndarray, int]:
    """(N,) fold of every record of the cross-validation pool, and the number of folds: the
    records' `fold` modulo config.data.num_folds, or with config.data.subjects_per_fold = n > 0
    leave-n-subjects-out groups of their subject ids."""
    per_fold = int(data_cfg.get("subjects_per_fold", 0))
    if per_fold < 0:
        raise ValueError(f"config.data.subjects_per_fold={per_fold}; expected 0 (the records' "
                         "fold field) or a positive number of subjects per fold")
    if per_fold:
        subjects = sources.field_values(pool, "subject_id")
        if np.any(subjects < 0):
            raise ValueError(f"{int(np.sum(subjects < 0))} records of config.data.cv_split="
                             f"{data_cfg['cv_split']!r} have no subject id: "
                             "config.data.subjects_per_fold needs every subject")
        folds = leave_n_subjects_out(subjects, per_fold)
        return folds, int(folds.max()) + 1
    num_folds = int(data_cfg["num_folds"])
    folds = sources.field_values(pool, "fold")
    if np.any(folds < 0):
        raise ValueError(f"{int(np.sum(folds < 0))} records of config.data.cv_split="
                         f"{data_cfg['cv_split']!r} have no fold (unknown subject): this dataset "
                         "cannot be cross-validated by subject; use its official splits")
    return folds % num_folds, num_folds


def num_cv_folds(data_cfg: Mapping[str, Any]) -> int:
    """How many folds config.data cross-validates over (reads the pool's subject ids only when
    config.data.subjects_per_fold > 0)."""
    if int(data_cfg.get("subjects_per_fold", 0)) > 0:
        return cv_folds(data_cfg, sources.open_split(data_cfg, data_cfg["cv_split"]))[1]
    return int(data_cfg["num_folds"])
