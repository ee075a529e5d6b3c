"""RAF-DB basic: EmoLabel/list_patition_label.txt ("name label") and Image/{aligned,original}.

manual_dir/basic/EmoLabel/list_patition_label.txt   (or manual_dir/EmoLabel/...)
manual_dir/basic/Image/aligned/train_00001_aligned.jpg, .../original/train_00001.jpg
Names starting train_ go to split 'train', test_ to 'test'. No subject ids.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Mapping

from ferjax.data.real import label_codes
from ferjax.data.real.errors import first_existing, require
from ferjax.data.real.example import ParsedDataset, RawExample
from ferjax.data.real.images import load_image

# Basic EmoLabel/list_patition_label.txt.
LABELS: Mapping[int, str] = {
    1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "anger", 7: "neutral",
}

LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"


def image_name(name: str, variant: str) -> str:
    """train_00001.jpg -> train_00001_aligned.jpg for the aligned variant."""
    if variant == "original":
        return name
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}_aligned.{suffix}"


def parse(root: Path, variant: str = "aligned") -> ParsedDataset:
    """Splits 'train' and 'test' of the `variant` images ('aligned' or 'original')."""
    if variant not in ("aligned", "original"):
        raise ValueError(f"variant={variant!r}: expected 'aligned' or 'original'")
    base = first_existing([root / "basic", root], "unpack RAF-DB basic.zip here")
    labels_path = require(base / LABEL_FILE, "unpack RAF-DB's basic/EmoLabel here")
    images = require(base / "Image" / variant, f"unpack RAF-DB's basic/Image/{variant} here")
    parsed = ParsedDataset(splits={"train": [], "test": []})
    for line_no, line in enumerate(labels_path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{labels_path}:{line_no}"
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{where}: expected 'name label', got {line.strip()!r}")
        name, code = parts
        split = name.split("_", 1)[0]
        if split not in parsed.splits:
            raise ValueError(f"{where}: name {name!r} starts with neither train_ nor test_")
        label = label_codes.canonical_id(
            LABELS, label_codes.parse_int_code(code, where=where), where=where,
            dataset="RAF-DB")
        file = images / image_name(name, variant)
        parsed.splits[split].append(RawExample(key=name, load=functools.partial(load_image, file),
                                               label=label, source=where))
    return parsed
