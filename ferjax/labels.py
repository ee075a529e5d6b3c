"""The canonical label space of ferjax and the label maps the papers use on top of it.

Every dataset builder maps its own codes into the canonical 8 classes below with an explicit
table; models and metrics only ever see canonical indices (or a paper's reduced map of them).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

# Canonical order, index = label id. Fixed: changing it silently relabels every dataset.
CLASSES: tuple[str, ...] = (
    "neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt",
)
NUM_CLASSES = len(CLASSES)
CLASS_INDEX: Mapping[str, int] = {name: i for i, name in enumerate(CLASSES)}

# 7-class space: the canonical classes without contempt (Sun et al., EmotionalDAN, most papers).
SEVEN_CLASSES: tuple[str, ...] = CLASSES[:7]

# EmotionalDAN's 3-class space (paper §4): negative = fear, sadness, disgust, anger;
# positive = happiness, contempt; neutral kept; surprise dropped (no valence).
THREE_CLASSES: tuple[str, ...] = ("neutral", "positive", "negative")
_THREE_CLASS_OF = {
    "neutral": "neutral",
    "happy": "positive", "contempt": "positive",
    "sad": "negative", "fear": "negative", "disgust": "negative", "anger": "negative",
    "surprise": None,
}

DROPPED = -1  # label id of an example a label map excludes


def class_index(name: str) -> int:
    """Canonical index of a class name; raises ValueError naming the unknown class."""
    try:
        return CLASS_INDEX[name]
    except KeyError:
        raise ValueError(f"unknown class name {name!r}; expected one of {list(CLASSES)}") from None


def label_map_table(label_space: str) -> np.ndarray:
    """Lookup table canonical id -> id in `label_space` ('canonical8', 'seven', 'three').

    Returns an int32 array of shape (8,); excluded classes map to DROPPED (-1).
    """
    if label_space in ("canonical8", "eight"):
        return np.arange(NUM_CLASSES, dtype=np.int32)
    if label_space == "seven":
        return np.array([i if c in SEVEN_CLASSES else DROPPED for i, c in enumerate(CLASSES)],
                        dtype=np.int32)
    if label_space == "three":
        return np.array(
            [DROPPED if _THREE_CLASS_OF[c] is None else THREE_CLASSES.index(_THREE_CLASS_OF[c])
             for c in CLASSES], dtype=np.int32)
    raise ValueError(
        f"unknown label_space {label_space!r}; expected 'canonical8', 'seven' or 'three'")


def label_space_of(classes: Sequence[str]) -> str:
    """The smallest standard label space holding every class name in `classes`: 'seven' when
    contempt is not among them, else 'canonical8' (a dataset's own space, used by default)."""
    unknown = sorted(set(classes) - set(CLASSES))
    if unknown:
        raise ValueError(f"unknown class names {unknown}; expected some of {list(CLASSES)}")
    return "seven" if set(classes) <= set(SEVEN_CLASSES) else "canonical8"


def label_space_classes(label_space: str) -> Sequence[str]:
    """Class names of a label space ('canonical8', 'seven', 'three'), in index order."""
    label_map_table(label_space)  # validates the name
    return {"canonical8": CLASSES, "eight": CLASSES, "seven": SEVEN_CLASSES,
            "three": THREE_CLASSES}[label_space]
