"""Per-dataset label tables: each dataset's own codes -> canonical ferjax class names.

One explicit table per dataset (codes as they appear in the files: integers from label files
and CSVs, abbreviations from file names, folder names), copied from the datasets'
documentation. Label-order mistakes are the most common bug in FER tools, so every table is
tested code by code against the documented codes. `canonical_id` turns a code into the
canonical index of ferjax/labels.py, or raises `LabelCodeError` naming the file and line.
"""

from __future__ import annotations

from typing import Mapping

from ferjax import labels

# CK+ Emotion/*_emotion.txt (one float per file).
CKPLUS: Mapping[int, str] = {
    0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sad",
    7: "surprise",
}
# JAFFE file names KA.AN1.39.tiff: the two letters after the subject.
JAFFE: Mapping[str, str] = {
    "AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral", "SA": "sad",
    "SU": "surprise",
}
# RaFD file names Rafd090_28_Caucasian_male_angry_frontal.jpg: the emotion word.
RAFD: Mapping[str, str] = {
    "angry": "anger", "contemptuous": "contempt", "disgusted": "disgust", "fearful": "fear",
    "happy": "happy", "neutral": "neutral", "sad": "sad", "surprised": "surprise",
}
# AffectNet expression column / *_exp.npy. 8 none, 9 uncertain, 10 no-face are known codes
# that carry no emotion: they are excluded (and counted), never an error.
AFFECTNET: Mapping[int, str] = {
    0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger",
    7: "contempt",
}
AFFECTNET_EXCLUDED: Mapping[int, str] = {8: "none", 9: "uncertain", 10: "no-face"}
# fer2013.csv emotion column.
FER2013: Mapping[int, str] = {
    0: "anger", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral",
}
# FER-2013 image-folder copies (train/<class>/Training_*.jpg).
FER2013_FOLDERS: Mapping[str, str] = {
    "angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happy",
    "neutral": "neutral", "sad": "sad", "surprise": "surprise",
}
# fer2013new.csv vote columns (in file order); "unknown" and "NF" (not a face) are not emotions.
FERPLUS_VOTE_COLUMNS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
    "unknown", "NF",
)
FERPLUS: Mapping[str, str] = {
    "neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
    "anger": "anger", "disgust": "disgust", "fear": "fear", "contempt": "contempt",
}
# SFEW 2.0 class folders.
SFEW: Mapping[str, str] = {
    "Angry": "anger", "Disgust": "disgust", "Fear": "fear", "Happy": "happy",
    "Neutral": "neutral", "Sad": "sad", "Surprise": "surprise",
}
# BU-3DFE file names F0001_AN01WH_F2D.bmp: the two letters after the subject.
BU3DFE: Mapping[str, str] = {
    "AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral", "SA": "sad",
    "SU": "surprise",
}
# RAF-DB basic EmoLabel/list_patition_label.txt.
RAFDB: Mapping[int, str] = {
    1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "anger", 7: "neutral",
}
# KDEF file names AF01ANS.JPG: the two letters after the id ("AF" = afraid).
KDEF: Mapping[str, str] = {
    "AF": "fear", "AN": "anger", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad",
    "SU": "surprise",
}
# CK+48 derived copy: class folders.
CK48_FOLDERS: Mapping[str, str] = {
    "anger": "anger", "contempt": "contempt", "disgust": "disgust", "fear": "fear",
    "happy": "happy", "sadness": "sad", "surprise": "surprise",
}
# ISED (user layout): its four classes, under the names users commonly give them.
ISED: Mapping[str, str] = {
    "happiness": "happy", "happy": "happy", "surprise": "surprise", "sadness": "sad",
    "sad": "sad", "disgust": "disgust",
}
# Generic class-folder builder: every common spelling of the eight classes (matched lower-case).
CLASS_NAME_SYNONYMS: Mapping[str, str] = {
    **{name: name for name in labels.CLASSES},
    "neutrality": "neutral", "happiness": "happy", "joy": "happy", "sadness": "sad",
    "surprised": "surprise", "fearful": "fear", "afraid": "fear", "disgusted": "disgust",
    "angry": "anger", "contemptuous": "contempt",
}

TABLES: Mapping[str, Mapping] = {
    "ckplus": CKPLUS, "jaffe": JAFFE, "rafd": RAFD, "affectnet": AFFECTNET,
    "fer2013": FER2013, "fer2013_folders": FER2013_FOLDERS, "ferplus": FERPLUS, "sfew": SFEW,
    "bu3dfe": BU3DFE, "rafdb": RAFDB, "kdef": KDEF, "ck48_folders": CK48_FOLDERS, "ised": ISED,
    "class_names": CLASS_NAME_SYNONYMS,
}


class LabelCodeError(ValueError):
    """A label code that the dataset's table does not know; the message names file and line."""


def canonical_id(table: Mapping, code, *, where: str, dataset: str = "") -> int:
    """Canonical class index of `code` under `table`.

    `where` names the source ("path/to/file.csv:17" or a file name) for the error message.
    Raises LabelCodeError when the code is not in the table.
    """
    try:
        return labels.class_index(table[code])
    except KeyError:
        known = ", ".join(repr(k) for k in table)
        raise LabelCodeError(
            f"{where}: unknown {dataset + ' ' if dataset else ''}label code {code!r}; "
            f"known codes: {known}") from None


def parse_int_code(text: str, *, where: str) -> int:
    """An integer label code written as '3', '3.0' or '3.0000000e+00' (CK+ writes floats)."""
    try:
        value = float(text)
    except ValueError:
        raise LabelCodeError(f"{where}: label code {text.strip()!r} is not a number") from None
    if value != int(value):
        raise LabelCodeError(f"{where}: label code {text.strip()!r} is not an integer")
    return int(value)
