"""What a layout parser hands the builder: source examples per split, before decoding."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ferjax.data import splits


@dataclasses.dataclass(frozen=True)
class RawExample:
    """One example as found in manual_dir, not yet decoded.

    key: unique within the dataset (relative path, or file:line); load: () -> uint8 (H, W, C),
    raising UnreadableImage; label: canonical id; subject_id: -1 unknown; fold: -1 undefined;
    landmarks: float32 (68, 2) source pixels or None; box: float32 (4,) x, y, w, h source
    pixels or None; extras: the builder's extra features (already typed); source: file (and
    line) named in reports.
    """
    key: str
    load: Callable[[], np.ndarray]
    label: int
    source: str
    subject_id: int = -1
    fold: int = -1
    landmarks: np.ndarray | None = None
    box: np.ndarray | None = None
    extras: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ParsedDataset:
    """splits: split name -> examples; excluded: reason -> count of source items deliberately
    left out (e.g. AffectNet 'uncertain', CK+ sequences without an emotion file)."""
    splits: dict[str, list[RawExample]]
    excluded: dict[str, int] = dataclasses.field(default_factory=dict)

    def exclude(self, reason: str, count: int = 1) -> None:
        self.excluded[reason] = self.excluded.get(reason, 0) + count


def relative_key(path, root) -> str:
    """Example key: the path relative to the dataset root (stable wherever the data lives)."""
    path, root = Path(path), Path(root)
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def rank_ids(names: Sequence[str]) -> dict[str, int]:
    """Subject name -> id by rank in sorted order (ids 0..n-1); for layouts whose subject names
    are free text."""
    return {name: i for i, name in enumerate(sorted(set(names)))}


def subject_ids(names: Sequence[str]) -> dict[str, int]:
    """Subject name -> id: the number itself when every name is a decimal number (CK+48's
    S-numbers captured from "S010_006_*.png" keep their CK+ ids), else the rank (rank_ids)."""
    unique = set(names)
    if unique and all(n.isdecimal() for n in unique):
        return {n: int(n) for n in unique}
    return rank_ids(list(unique))


def with_folds(parsed: ParsedDataset, fold_of_subject: Callable[[np.ndarray], np.ndarray]) -> ParsedDataset:
    """Copy of `parsed` with each example's fold set from its subject id."""
    for split, examples in parsed.splits.items():
        if not examples:
            continue
        folds = fold_of_subject(np.array([e.subject_id for e in examples], np.int64))
        parsed.splits[split] = [dataclasses.replace(e, fold=int(f)) for e, f in zip(examples, folds)]
    return parsed


def with_subject_kfold(parsed: ParsedDataset, k: int) -> ParsedDataset:
    """`with_folds` with k subject-disjoint folds (ferjax.data.splits.subject_kfold), k capped
    at the number of subjects so small copies of a dataset still prepare."""
    subjects = {e.subject_id for examples in parsed.splits.values() for e in examples}
    k = min(k, len(subjects))
    return with_folds(parsed, lambda ids: splits.subject_kfold(ids, k))
