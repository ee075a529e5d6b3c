"""The simple layouts users choose for datasets without a public layout (ISED, HAPPEI) and for
derived copies (CK+48, FER-2013 image folders, any root/<class>/<image> tree).

Accepted, in this order:
  1. root/labels.csv with a header row: path,label[,subject][,split]  (path relative to root;
     split one of train, validation, test; default train);
  2. root/<split>/<class>/<image> with split folders train|training, val|validation, test;
  3. root/<class>/<image> (everything in split train).
Subject names come from the CSV's subject column or from a regex on the file name (group
"subject", else group 1); they become ids as numbers when all are numbers (CK+48's S-numbers),
else by rank in sorted order.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import re
from pathlib import Path
from typing import Callable, Mapping

from ferjax.data.real import label_codes
from ferjax.data.real.errors import MissingManualFile
from ferjax.data.real.example import ParsedDataset, RawExample, relative_key, subject_ids
from ferjax.data.real.images import IMAGE_SUFFIXES, load_image

LABELS_CSV = "labels.csv"
SPLIT_FOLDERS: Mapping[str, str] = {
    "train": "train", "training": "train", "val": "validation", "validation": "validation",
    "test": "test",
}


@dataclasses.dataclass(frozen=True)
class SimpleItem:
    """One image of a simple layout: split, file, raw label code, subject name (or None), and
    where it was declared (folder or csv:line) for error messages."""
    split: str
    path: Path
    code: str
    subject: str | None
    where: str


def subject_from_name(pattern: re.Pattern | None, path: Path) -> str | None:
    """Subject name parsed from the file name; ValueError naming the file when it does not match."""
    if pattern is None:
        return None
    match = pattern.search(path.name)
    if match is None:
        raise ValueError(f"{path}: file name does not match subject pattern {pattern.pattern!r}")
    return match.group("subject") if "subject" in pattern.groupindex else match.group(1)


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_class_folders(root: Path, pattern: re.Pattern | None, split: str = "train",
                       skipped_files: list | None = None) -> list[SimpleItem]:
    """root/<class>/<image> -> items; non-image files are appended to `skipped_files`."""
    items = []
    for class_dir in _subdirs(root):
        for path in sorted(class_dir.rglob("*")):
            if path.is_dir() or path.name.startswith("."):
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                if skipped_files is not None:
                    skipped_files.append(path)
                continue
            items.append(SimpleItem(split, path, class_dir.name,
                                    subject_from_name(pattern, path), str(class_dir)))
    return items


def scan_folders(root: Path, pattern: re.Pattern | None,
                 skipped_files: list | None = None) -> list[SimpleItem]:
    """Layouts 2 and 3: split folders of class folders, or class folders alone."""
    subdirs = _subdirs(root)
    is_split = [d.name.lower() in SPLIT_FOLDERS for d in subdirs]
    if not subdirs:
        raise MissingManualFile(f"missing class folders in {root}: put root/<class>/<image> "
                                f"(or root/<split>/<class>/<image>, or {LABELS_CSV}) there")
    if any(is_split) and not all(is_split):
        raise ValueError(f"{root}: mixes split folders {sorted(SPLIT_FOLDERS)} with other "
                         f"folders {[d.name for d in subdirs]}; use one or the other")
    if not any(is_split):
        return scan_class_folders(root, pattern, "train", skipped_files)
    return [item for d in subdirs for item in
            scan_class_folders(d, pattern, SPLIT_FOLDERS[d.name.lower()], skipped_files)]


def read_label_csv(csv_path: Path, root: Path) -> list[SimpleItem]:
    """Layout 1: labels.csv rows -> items; errors name the file and line."""
    items = []
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in reader.fieldnames or []]
        if "path" not in fields or "label" not in fields:
            raise ValueError(f"{csv_path}:1: header must name columns path,label[,subject]"
                             f"[,split]; found {fields}")
        for row in reader:
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            where = f"{csv_path}:{reader.line_num}"
            split = row.get("split") or "train"
            if split not in ("train", "validation", "test"):
                raise ValueError(f"{where}: split {split!r} must be train, validation or test")
            items.append(SimpleItem(split, root / row["path"], row["label"],
                                    row.get("subject") or None, where))
    return items


def read_simple_layout(root: Path, pattern: re.Pattern | None,
                       skipped_files: list | None = None) -> list[SimpleItem]:
    """Whichever simple layout root holds (see module docstring)."""
    if not root.is_dir():
        raise MissingManualFile(f"missing {root}: put {LABELS_CSV} and images, or class folders, there")
    csv_path = root / LABELS_CSV
    if csv_path.is_file():
        return read_label_csv(csv_path, root)
    return scan_folders(root, pattern, skipped_files)


LabelOf = Callable[[SimpleItem], tuple[int, dict]]


def items_to_parsed(items: list[SimpleItem], root: Path, label_of: LabelOf,
                    skipped_files: list | None = None) -> ParsedDataset:
    """Items -> ParsedDataset keyed by path relative to root; `label_of(item)` gives (canonical
    id, extra features) or raises LabelCodeError. Subject ids: the number when every subject
    name is one, else the rank (example.subject_ids); -1 when absent."""
    ids = subject_ids([i.subject for i in items if i.subject is not None])
    parsed = ParsedDataset(splits={})
    for item in items:
        label, extras = label_of(item)
        parsed.splits.setdefault(item.split, []).append(RawExample(
            key=relative_key(item.path, root), load=functools.partial(load_image, item.path),
            label=label, source=str(item.path), subject_id=ids.get(item.subject, -1),
            extras=extras))
    if skipped_files:
        parsed.exclude("non-image files", len(skipped_files))
    return parsed


def table_label(table: Mapping[str, str], dataset: str) -> LabelOf:
    """label_of for class-name codes looked up case-insensitively in `table` (name -> class)."""
    folded = {str(k).lower(): v for k, v in table.items()}

    def label_of(item: SimpleItem) -> tuple[int, dict]:
        return label_codes.canonical_id(folded, item.code.lower(), where=item.where,
                                         dataset=dataset), {}
    return label_of


def parse_simple(root: Path, label_of: LabelOf, subject_pattern: str | None = None) -> ParsedDataset:
    """Any simple layout under root (see module docstring) -> ParsedDataset."""
    pattern = re.compile(subject_pattern) if subject_pattern else None
    skipped: list = []
    items = read_simple_layout(root, pattern, skipped)
    return items_to_parsed(items, root, label_of, skipped)
