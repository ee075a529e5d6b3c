"""Layouts whose file names carry the labels (JAFFE, RaFD, KDEF, BU-3DFE): one shared scanner."""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path
from typing import Callable

from ferjax.data.real.errors import MissingManualFile
from ferjax.data.real.example import ParsedDataset, RawExample, relative_key
from ferjax.data.real.images import is_image_file, load_image
from ferjax.data.real.report import log

# Datasets naming subjects by gender + number (KDEF, BU-3DFE): female n -> n, male n -> 1000 + n.
MALE_OFFSET = 1000


def gendered_subject_id(gender: str, number: int) -> int:
    """Subject id of 'F'/'M' + number (unique across genders)."""
    if gender.upper() not in ("F", "M"):
        raise ValueError(f"gender {gender!r}: expected F or M")
    return number + (MALE_OFFSET if gender.upper() == "M" else 0)


@dataclasses.dataclass(frozen=True)
class NameFields:
    """What a file name says: canonical label, subject id, extra features; keep=False leaves
    the file out of this config (e.g. another camera angle), counted under `reason`."""
    label: int
    subject_id: int
    extras: dict = dataclasses.field(default_factory=dict)
    keep: bool = True
    reason: str = ""


def scan_named_images(root: Path, pattern: re.Pattern, fields_of: Callable[[Path, re.Match], NameFields],
                      what: str, split: str = "train") -> ParsedDataset:
    """Every image file under root (recursively) whose name matches `pattern`.

    Image files whose names do not match are counted as excluded and logged by name (e.g.
    stray copies); `fields_of` raises LabelCodeError for unknown codes in a matching name.
    Raises MissingManualFile when root holds no matching image.
    """
    if not root.is_dir():
        raise MissingManualFile(f"missing {root}: {what}")
    parsed = ParsedDataset(splits={split: []})
    unmatched = []
    for path in sorted(p for p in root.rglob("*") if is_image_file(p)):
        match = pattern.match(path.name)
        if match is None:
            unmatched.append(path)
            continue
        fields = fields_of(path, match)
        if not fields.keep:
            parsed.exclude(fields.reason)
            continue
        parsed.splits[split].append(RawExample(
            key=relative_key(path, root), load=functools.partial(load_image, path),
            label=fields.label, source=str(path), subject_id=fields.subject_id,
            extras=fields.extras))
    if unmatched:
        parsed.exclude(f"image files not named like {pattern.pattern}", len(unmatched))
        log.warning("%d image files under %s do not follow the naming pattern, e.g. %s",
                    len(unmatched), root, [str(p) for p in unmatched[:5]])
    if not parsed.splits[split]:
        raise MissingManualFile(f"missing images named like {pattern.pattern} under {root}: {what}")
    return parsed
