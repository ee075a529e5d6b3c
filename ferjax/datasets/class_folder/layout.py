"""Any class-folder tree in a simple layout (ferjax.data.real.simple), with a folder-name ->
class table: every common spelling of the eight classes by default, or a known copy's folders.

CK+48 (config ck48) is a derived copy of CK+: 48×48 face crops in class folders, the subject
and sequence in each file name (S010_006_00000013.png). What it offers: the subject ids are the
S-numbers themselves, so its 10 subject-disjoint folds (contiguous blocks of sorted S-numbers)
are the same as the ckplus builder's on the original layout whenever both hold the same
labelled subjects. What it cannot offer: no neutral class (7 classes: the six basic emotions
and contempt), no landmarks or FACS codes, and only the frames the copy's author kept (usually
the last three of each labelled sequence); subjects missing from a copy shift the fold blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ferjax import labels
from ferjax.data.real import simple
from ferjax.data.real.example import ParsedDataset, with_subject_kfold

# Default table: every common spelling of the eight classes (matched lower-case).
CLASS_NAME_SYNONYMS: Mapping[str, str] = {
    **{name: name for name in labels.CLASSES},
    "neutrality": "neutral", "happiness": "happy", "joy": "happy", "sadness": "sad",
    "surprised": "surprise", "fearful": "fear", "afraid": "fear", "disgusted": "disgust",
    "angry": "anger", "contemptuous": "contempt",
}
# CK+48 derived copy: class folders.
CK48_FOLDERS: Mapping[str, str] = {
    "anger": "anger", "contempt": "contempt", "disgust": "disgust", "fear": "fear",
    "happy": "happy", "sadness": "sad", "surprise": "surprise",
}
# FER-2013 image-folder copies (train/<class>/Training_*.jpg).
FER2013_FOLDERS: Mapping[str, str] = {
    "angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happy",
    "neutral": "neutral", "sad": "sad", "surprise": "surprise",
}


def parse(root: Path, class_map: Mapping[str, str] | None = None,
          subject_pattern: str | None = None, num_folds: int = 0) -> ParsedDataset:
    """The simple layout under `root`, folder names read through `class_map` (default
    CLASS_NAME_SYNONYMS); num_folds > 0 stores that many subject-disjoint folds in `fold`."""
    table = class_map or CLASS_NAME_SYNONYMS
    parsed = simple.parse_simple(root, simple.table_label(table, "class-folder"), subject_pattern)
    if num_folds <= 0:
        return parsed
    unknown = [e.source for examples in parsed.splits.values() for e in examples
               if e.subject_id < 0]
    if unknown:
        raise ValueError(f"{len(unknown)} images under {root} have no subject (e.g. {unknown[0]}"
                         f"), but num_folds={num_folds} needs one for every image: name files so "
                         f"that subject_pattern {subject_pattern!r} matches, or give labels.csv a "
                         "subject column")
    return with_subject_kfold(parsed, num_folds)
