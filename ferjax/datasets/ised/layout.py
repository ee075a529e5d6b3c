"""ISED in a simple layout of the user's choosing (ferjax.data.real.simple): labels.csv,
<split>/<label>/<image> or <label>/<image>, its four classes under their common names."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ferjax.data.real import simple
from ferjax.data.real.example import ParsedDataset

# Its four classes, under the names users commonly give them.
LABELS: Mapping[str, str] = {
    "happiness": "happy", "happy": "happy", "surprise": "surprise", "sadness": "sad",
    "sad": "sad", "disgust": "disgust",
}


def parse(root: Path, subject_pattern: str | None = None) -> ParsedDataset:
    """The simple layout under `root`, labels read through LABELS."""
    return simple.parse_simple(root, simple.table_label(LABELS, "ISED"), subject_pattern)
