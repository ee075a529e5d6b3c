"""FACS action units FERSynth renders, and the EMFACS combination of each emotion class.

The AU order fixes the meaning of every `au` vector and of bit k in `au_regions`; changing it
silently relabels stored datasets.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

AU_NAMES: tuple[str, ...] = (
    "AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10",
    "AU12", "AU14", "AU15", "AU16", "AU17", "AU20", "AU23", "AU26",
)
NUM_AUS = len(AU_NAMES)

AU_DESCRIPTIONS: Mapping[str, str] = MappingProxyType({
    "AU1": "inner brow raiser", "AU2": "outer brow raiser", "AU4": "brow lowerer",
    "AU5": "upper lid raiser", "AU6": "cheek raiser", "AU7": "lid tightener",
    "AU9": "nose wrinkler", "AU10": "upper lip raiser", "AU12": "lip corner puller",
    "AU14": "dimpler", "AU15": "lip corner depressor", "AU16": "lower lip depressor",
    "AU17": "chin raiser", "AU20": "lip stretcher", "AU23": "lip tightener", "AU26": "jaw drop",
})

# EMFACS prototypes as listed in Sun et al. Table 4 and EmotionalDAN Table 4.
EMOTION_AUS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "neutral": (),
    "happy": ("AU6", "AU12"),
    "sad": ("AU1", "AU4", "AU15"),
    "surprise": ("AU1", "AU2", "AU5", "AU26"),
    "fear": ("AU1", "AU2", "AU4", "AU5", "AU7", "AU20", "AU26"),
    "disgust": ("AU9", "AU15", "AU16"),
    "anger": ("AU4", "AU5", "AU7", "AU23"),
    "contempt": ("AU12", "AU14"),
})

# Classes whose AUs act on one side of the face only (contempt is a unilateral 12+14).
UNILATERAL_CLASSES = frozenset({"contempt"})


def au_index(name: str) -> int:
    """Index of an AU name in AU_NAMES (= its bit in au_regions); ValueError if unknown."""
    try:
        return AU_NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown action unit {name!r}; expected one of {list(AU_NAMES)}") from None
