"""The prepare report: what was written, skipped, excluded and duplicated, written next to the
prepared data as prepare_report.json and summarised in the log."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

import numpy as np

from ferjax.files import json_text, write_text

REPORT_NAME = "prepare_report.json"
log = logging.getLogger("ferjax.data.real")


def image_hash(image: np.ndarray) -> str:
    """Content hash of a decoded image (shape and pixels), so identical images stored as
    different files or CSV rows collide."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(image.shape).encode())
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


@dataclasses.dataclass
class PrepareReport:
    dataset: str
    config: str
    written: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: list[dict] = dataclasses.field(default_factory=list)
    excluded: dict[str, int] = dataclasses.field(default_factory=dict)
    detection_fallbacks: dict[str, int] = dataclasses.field(default_factory=dict)
    empty_splits: list[str] = dataclasses.field(default_factory=list)
    _hashes: dict[str, list[tuple[str, str]]] = dataclasses.field(default_factory=dict, repr=False)

    def add_written(self, split: str) -> None:
        self.written[split] = self.written.get(split, 0) + 1

    def add_skipped(self, split: str, key: str, source: str, reason: str) -> None:
        self.skipped.append({"split": split, "key": key, "source": source, "reason": reason})
        log.warning("skipped unreadable image %s (%s): %s", key, split, reason)

    def add_fallback(self, split: str) -> None:
        self.detection_fallbacks[split] = self.detection_fallbacks.get(split, 0) + 1

    def add_hash(self, split: str, key: str, image: np.ndarray) -> None:
        self._hashes.setdefault(image_hash(image), []).append((split, key))

    def duplicate_groups(self) -> tuple[list[list[dict]], int]:
        """(groups of identical images spanning more than one split, count of groups of
        identical images within a single split)."""
        cross, within = [], 0
        for members in self._hashes.values():
            if len(members) < 2:
                continue
            if len({split for split, _ in members}) > 1:
                cross.append([{"split": s, "key": k} for s, k in members])
            else:
                within += 1
        return cross, within

    def to_dict(self) -> dict:
        cross, within = self.duplicate_groups()
        return {
            "dataset": self.dataset, "config": self.config, "written": dict(self.written),
            "skipped_count": len(self.skipped), "skipped": list(self.skipped),
            "excluded": dict(self.excluded), "detection_fallbacks": dict(self.detection_fallbacks),
            "empty_splits": list(self.empty_splits),
            "cross_split_duplicate_groups": len(cross), "cross_split_duplicates": cross,
            "within_split_duplicate_groups": within,
        }

    def summary(self) -> str:
        d = self.to_dict()
        return (f"{self.dataset}/{self.config}: written {d['written']}, skipped "
                f"{d['skipped_count']} unreadable, excluded {d['excluded']}, "
                f"{d['cross_split_duplicate_groups']} groups of identical images across splits, "
                f"{d['within_split_duplicate_groups']} within a split, detection fallbacks "
                f"{d['detection_fallbacks']}")

    def write(self, directory: Path) -> Path:
        path = Path(directory) / REPORT_NAME
        return write_text(path, json_text(self.to_dict(), indent=1))
