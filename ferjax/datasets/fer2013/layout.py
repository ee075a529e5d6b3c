"""FER-2013 (fer2013.csv) and FER+ (fer2013new.csv, same row order).

manual_dir/fer2013.csv     columns emotion, pixels (2304 grey values), Usage
manual_dir/fer2013new.csv  (FER+ only) columns Usage, Image name, then 10 vote columns
Usage Training -> 'train', PublicTest -> 'validation', PrivateTest -> 'test'.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Mapping

import numpy as np

from ferjax import labels
from ferjax.data.real import label_codes
from ferjax.data.real.errors import require
from ferjax.data.real.example import ParsedDataset, RawExample
from ferjax.data.real.images import image_from_pixels

# fer2013.csv emotion column.
LABELS: Mapping[int, str] = {
    0: "anger", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral",
}
# fer2013new.csv (FER+) vote columns in file order; "unknown" and "NF" (not a face) are not
# emotions.
FERPLUS_VOTE_COLUMNS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
    "unknown", "NF",
)
FERPLUS_LABELS: Mapping[str, str] = {
    "neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
    "anger": "anger", "disgust": "disgust", "fear": "fear", "contempt": "contempt",
}

USAGE_SPLITS = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}
IMAGE_SHAPE = (48, 48)
FERPLUS_NON_EMOTIONS = ("unknown", "NF")


def _split_of(usage: str, where: str) -> str:
    try:
        return USAGE_SPLITS[usage.strip()]
    except KeyError:
        raise ValueError(f"{where}: unknown Usage {usage!r}; expected {sorted(USAGE_SPLITS)}") from None


def read_fer2013(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) of fer2013.csv; errors name the file and line."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}:1: missing columns {sorted(missing)}")
        return [(reader.line_num, row) for row in reader]


def ferplus_votes(row: dict, where: str) -> np.ndarray:
    """The 10 vote counts of a fer2013new.csv row, in FERPLUS_VOTE_COLUMNS order."""
    try:
        return np.array([float(row[c]) for c in FERPLUS_VOTE_COLUMNS], np.float32)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{where}: bad or missing vote column ({err})") from None


def ferplus_soft_label(votes: np.ndarray) -> np.ndarray:
    """Votes (10,) -> float32 (8,) canonical-order probabilities over the 8 emotions (votes for
    unknown/NF left out); all-zero when no emotion got a vote."""
    soft = np.zeros((labels.NUM_CLASSES,), np.float32)
    for column, count in zip(FERPLUS_VOTE_COLUMNS, votes):
        if column in FERPLUS_LABELS:
            soft[labels.class_index(FERPLUS_LABELS[column])] += count
    total = soft.sum()
    return soft / total if total > 0 else soft


def ferplus_majority(votes: np.ndarray) -> int | None:
    """Majority label (canonical id) or None, as FER+'s reference code does it: single votes
    are dropped as outliers, then the top class needs more than half of the remaining votes and
    must be an emotion (not unknown/NF)."""
    kept = np.where(votes > 1, votes, 0)
    total = kept.sum()
    if total == 0:
        return None
    top = int(np.argmax(kept))
    column = FERPLUS_VOTE_COLUMNS[top]
    if kept[top] <= 0.5 * total or column in FERPLUS_NON_EMOTIONS:
        return None
    return labels.class_index(FERPLUS_LABELS[column])


def parse(root: Path, ferplus: bool = False) -> ParsedDataset:
    """All rows by Usage split; with ferplus, labels are FER+ majorities (rows without one, or
    without an image name, are excluded and counted) and extra feature 'soft_label' (8,)."""
    csv_path = require(root / "fer2013.csv", "put fer2013.csv (Kaggle FER-2013 archive) here")
    rows = read_fer2013(csv_path)
    plus_rows = None
    if ferplus:
        plus_path = require(root / "fer2013new.csv",
                            "put fer2013new.csv (github.com/microsoft/FERPlus) here")
        with open(plus_path, newline="") as f:
            reader = csv.DictReader(f)
            plus_rows = [(f"{plus_path}:{reader.line_num}", row) for row in reader]
        if len(plus_rows) != len(rows):
            raise ValueError(f"{plus_path}: {len(plus_rows)} rows but {csv_path} has {len(rows)}; "
                             "FER+ rows must follow fer2013.csv row for row")
    parsed = ParsedDataset(splits={s: [] for s in USAGE_SPLITS.values()})
    for index, (line, row) in enumerate(rows):
        where = f"{csv_path}:{line}"
        split = _split_of(row["Usage"], where)
        load = functools.partial(image_from_pixels, row["pixels"], IMAGE_SHAPE, where=where)
        extras = {}
        if plus_rows is None:
            label = label_codes.canonical_id(
                LABELS, label_codes.parse_int_code(row["emotion"], where=where),
                where=where, dataset="FER-2013")
        else:
            plus_where, plus = plus_rows[index]
            if not (plus.get("Image name") or "").strip():
                parsed.exclude("FER+ rows without an image name")
                continue
            votes = ferplus_votes(plus, plus_where)
            label = ferplus_majority(votes)
            if label is None:
                parsed.exclude("FER+ rows without a majority emotion")
                continue
            extras = {"soft_label": ferplus_soft_label(votes)}
        parsed.splits[split].append(RawExample(key=f"row{index:05d}", load=load, label=label,
                                               source=where, extras=extras))
    return parsed
