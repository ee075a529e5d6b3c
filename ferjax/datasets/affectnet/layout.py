"""AffectNet, both releases.

Old (CSV) release:
  manual_dir/Manually_Annotated_Images/<dir>/<file>.jpg
  manual_dir/Manually_Annotated_file_lists/{training,validation}.csv with columns
  subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks (136 values
  'x;y;...'), expression, valence, arousal. A file without the header row is read with the
  columns in this order.
Newer (npy) release:
  manual_dir/{train_set,val_set}/images/<id>.jpg and
  manual_dir/{train_set,val_set}/annotations/<id>_{exp,val,aro,lnd}.npy
Codes 8 (none), 9 (uncertain), 10 (no-face) are excluded and counted; with classes=7, contempt
is excluded too. Valence/arousal -2 (n/a) become NaN.
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
from ferjax.data.real.example import ParsedDataset, RawExample, relative_key
from ferjax.data.real.images import load_image

CSV_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
               "facial_landmarks", "expression", "valence", "arousal")

# Expression column / *_exp.npy. 8 none, 9 uncertain, 10 no-face are known codes that carry no
# emotion: they are excluded (and counted), never an error.
LABELS: Mapping[int, str] = {
    0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger",
    7: "contempt",
}
EXCLUDED: Mapping[int, str] = {8: "none", 9: "uncertain", 10: "no-face"}

CSV_FILES = {"train": "training.csv", "validation": "validation.csv"}
NPY_SETS = {"train": "train_set", "validation": "val_set"}
NOT_AVAILABLE = -2.0


def _label_or_reason(code: int, classes: int, where: str) -> tuple[int | None, str]:
    if code in EXCLUDED:
        return None, f"code {code} ({EXCLUDED[code]})"
    label = label_codes.canonical_id(LABELS, code, where=where, dataset="AffectNet")
    if classes == 7 and label == labels.class_index("contempt"):
        return None, "contempt (classes=7)"
    return label, ""


def _affect(value: float) -> np.float32:
    return np.float32(np.nan if value == NOT_AVAILABLE else value)


def _landmarks(values, where: str) -> np.ndarray:
    points = np.asarray(values, np.float32)
    if points.size != 136:
        raise ValueError(f"{where}: {points.size} landmark values, expected 136")
    return points.reshape(68, 2)


def _csv_rows(path: Path):
    """(line number, row dict) of an AffectNet list, with or without its header row."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        for row in reader:
            if row and row[0].strip() == CSV_COLUMNS[0]:
                continue  # header
            if not row:
                continue
            if len(row) != len(CSV_COLUMNS):
                raise ValueError(f"{path}:{reader.line_num}: {len(row)} columns, expected "
                                 f"{len(CSV_COLUMNS)} ({', '.join(CSV_COLUMNS)})")
            yield reader.line_num, dict(zip(CSV_COLUMNS, row))


def parse_csv_release(root: Path, classes: int = 8) -> ParsedDataset:
    """Old release -> splits 'train' and 'validation' with landmarks, box, valence, arousal."""
    images = require(root / "Manually_Annotated_Images",
                     "unpack Manually_Annotated.tar (Manually_Annotated_Images/<dir>/*.jpg) here")
    parsed = ParsedDataset(splits={})
    for split, name in CSV_FILES.items():
        path = require(root / "Manually_Annotated_file_lists" / name,
                       "unpack Manually_Annotated_file_lists.zip here")
        examples = parsed.splits.setdefault(split, [])
        for line, row in _csv_rows(path):
            where = f"{path}:{line}"
            label, reason = _label_or_reason(
                label_codes.parse_int_code(row["expression"], where=where), classes, where)
            if label is None:
                parsed.exclude(reason)
                continue
            try:
                box = np.array([row[c] for c in CSV_COLUMNS[1:5]], np.float32)
                landmarks = _landmarks(row["facial_landmarks"].split(";"), where)
                valence, arousal = float(row["valence"]), float(row["arousal"])
            except ValueError as err:
                raise ValueError(f"{where}: {err}") from None
            file = images / row["subDirectory_filePath"]
            examples.append(RawExample(
                key=relative_key(file, images), load=functools.partial(load_image, file),
                label=label, source=where, landmarks=landmarks, box=box,
                extras={"valence": _affect(valence), "arousal": _affect(arousal)}))
    return parsed


def _npy_scalar(path: Path) -> float:
    # The release stores scalars as 0-d string arrays ('3', '0.25').
    return float(np.asarray(np.load(path)).reshape(-1)[0])


def parse_npy_release(root: Path, classes: int = 8) -> ParsedDataset:
    """Newer release -> splits 'train' and 'validation' with landmarks, valence, arousal."""
    parsed = ParsedDataset(splits={})
    for split, name in NPY_SETS.items():
        images = require(root / name / "images", f"unpack the AffectNet {name} archive here "
                         f"({name}/images/<id>.jpg and {name}/annotations/<id>_exp.npy)")
        annotations = require(root / name / "annotations", f"unpack the {name} annotations here")
        examples = parsed.splits.setdefault(split, [])
        for file in sorted(images.glob("*.jpg")):
            ann = lambda kind: require(annotations / f"{file.stem}_{kind}.npy",
                                       f"the {kind} annotation of {file.name}")
            exp_path = ann("exp")
            label, reason = _label_or_reason(
                label_codes.parse_int_code(str(np.asarray(np.load(exp_path)).reshape(-1)[0]),
                                            where=str(exp_path)), classes, str(exp_path))
            if label is None:
                parsed.exclude(reason)
                continue
            lnd_path = ann("lnd")
            examples.append(RawExample(
                key=relative_key(file, root), load=functools.partial(load_image, file),
                label=label, source=str(file),
                landmarks=_landmarks(np.load(lnd_path).astype(np.float32).reshape(-1), str(lnd_path)),
                extras={"valence": _affect(_npy_scalar(ann("val"))),
                        "arousal": _affect(_npy_scalar(ann("aro")))}))
    return parsed
