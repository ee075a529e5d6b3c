"""The validation split a run selects its model on (ferjax.train.selection), kept apart from
the split it reports (config.data.eval_split).

Either a split of the dataset, config.data.validation_split (FER-2013: "validation", the
PublicTest rows; the datasets that have one declare it in their PROTOCOL), or, for datasets
without one, a subject-disjoint hold-out of the training records,
config.data.validation_fraction of the subjects. The hold-out needs every training record's
subject id: FERSynth, CK+, JAFFE, RaFD, KDEF and BU-3DFE have them; FER-2013, RAF-DB, SFEW and
AffectNet do not (their records carry subject id -1), so there it is an error.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ferjax.data import sources


def _parts(split: str) -> set[str]:
    return {s.strip() for s in split.split("+") if s.strip()}


def _check_disjoint(data_cfg: Mapping[str, Any], split: str) -> None:
    fold = int(data_cfg.get("fold", -1))
    others = (("cv_split",) if fold >= 0 else ("train_split", "eval_split"))
    for field in others:
        shared = _parts(split) & _parts(str(data_cfg.get(field, "")))
        if shared:
            raise ValueError(f"config.data.validation_split={split!r} shares {sorted(shared)} "
                             f"with config.data.{field}={data_cfg.get(field)!r}: the validation "
                             "records must be neither trained on nor reported")


def subject_holdout(subject_ids, fraction: float, seed: int) -> np.ndarray:
    """Boolean (N,) mask of the held-out records: round(fraction·S) of the S distinct subjects
    (at least 1, at most S − 1), drawn with numpy's default_rng(seed)."""
    ids = np.asarray(subject_ids, np.int64)
    subjects = np.unique(ids)
    if len(subjects) < 2:
        raise ValueError(f"config.data.validation_fraction needs at least 2 training subjects, "
                         f"got {len(subjects)}")
    count = int(np.clip(round(fraction * len(subjects)), 1, len(subjects) - 1))
    held = np.random.default_rng(seed).permutation(subjects)[:count]
    return np.isin(ids, held)


def split_validation(data_cfg: Mapping[str, Any], train, *, seed: int):
    """(train, validation) sources: validation is None when config.data asks for none.

    With config.data.validation_split the training records are unchanged; with
    config.data.validation_fraction = f in (0, 1) the training records of a held-out fraction
    of subjects move to validation. ValueError naming the field on a bad value, on both set,
    and on records without subject ids.
    """
    split = str(data_cfg.get("validation_split", "") or "")
    fraction = float(data_cfg.get("validation_fraction", 0.0) or 0.0)
    if split and fraction:
        raise ValueError(f"config.data.validation_split={split!r} and "
                         f"config.data.validation_fraction={fraction} are both set; set one")
    if split:
        _check_disjoint(data_cfg, split)
        return train, sources.open_split(data_cfg, split)
    if not fraction:
        return train, None
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"config.data.validation_fraction={fraction}; expected 0 (none) or a "
                         "fraction in (0, 1) of the training subjects")
    try:
        subjects = sources.field_values(train, "subject_id")
    except KeyError as e:
        raise ValueError("config.data.validation_fraction holds out training subjects, but the "
                         "training records have no subject_id; use "
                         "config.data.validation_split") from e
    if np.any(subjects < 0):
        raise ValueError(f"config.data.validation_fraction={fraction}: {int(np.sum(subjects < 0))} "
                         f"of {len(subjects)} training records of {data_cfg.get('name')!r} have "
                         "no subject id (-1), so no subject-disjoint hold-out exists; use "
                         "config.data.validation_split (a split of the dataset) instead")
    held = subject_holdout(subjects, fraction, seed)
    return (sources.SubsetSource(train, np.flatnonzero(~held)),
            sources.SubsetSource(train, np.flatnonzero(held)))
