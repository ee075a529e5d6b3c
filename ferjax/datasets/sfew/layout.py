"""SFEW 2.0: manual_dir/Train/<Class>/*.png and manual_dir/Val/<Class>/*.png with class folders
Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise (matched case-insensitively)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ferjax.data.real.errors import require
from ferjax.data.real.example import ParsedDataset
from ferjax.data.real.simple import items_to_parsed, scan_class_folders, table_label

# SFEW 2.0 class folders.
LABELS: Mapping[str, str] = {
    "Angry": "anger", "Disgust": "disgust", "Fear": "fear", "Happy": "happy",
    "Neutral": "neutral", "Sad": "sad", "Surprise": "surprise",
}

FOLDERS = {"Train": "train", "Val": "validation"}


def parse(root: Path) -> ParsedDataset:
    """Splits 'train' (Train/) and 'validation' (Val/, the split papers report); no subject ids."""
    items, skipped = [], []
    for folder, split in FOLDERS.items():
        path = require(root / folder, f"unpack SFEW 2.0's {folder}.zip here ({folder}/<Class>/<image>)")
        items += scan_class_folders(path, None, split, skipped)
    return items_to_parsed(items, root, table_label(LABELS, "SFEW"), skipped)
