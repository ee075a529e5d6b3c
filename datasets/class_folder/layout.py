"""Any class-folder tree in a simple layout (ferjax.data.real.simple), with a folder-name ->
class table: every common spelling of the eight classes by default, or a known copy's folders."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ferjax import labels
from ferjax.data.real import simple
from ferjax.data.real.example import ParsedDataset

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
          subject_pattern: str | None = None) -> ParsedDataset:
    """The simple layout under `root`, folder names read through `class_map` (default
    CLASS_NAME_SYNONYMS)."""
    table = class_map or CLASS_NAME_SYNONYMS
    return simple.parse_simple(root, simple.table_label(table, "class-folder"), subject_pattern)
