"""KDEF: AF01ANS.JPG = session (A/B), gender (F/M), id 01-35, expression, angle.
manual_dir/KDEF/<sitting>/AF01ANS.JPG (any folder depth)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import numpy as np

from ferjax.data.real import label_codes
from ferjax.data.real.example import ParsedDataset, with_subject_kfold
from ferjax.data.real.named_files import NameFields, gendered_subject_id, scan_named_images

# File names AF01ANS.JPG: the two letters after the id ("AF" = afraid).
LABELS: Mapping[str, str] = {
    "AF": "fear", "AN": "anger", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad",
    "SU": "surprise",
}

# Full left, half left, straight, half right, full right; 'view' feature = index here.
ANGLES = ("FL", "HL", "S", "HR", "FR")
PATTERN = re.compile(r"^([AB])([FM])(\d{2})([A-Z]{2})(FL|HL|S|HR|FR)\.jpe?g$", re.IGNORECASE)
WHAT = "unpack KDEF here (per-sitting folders of files like AF01ANS.JPG)"
def parse(root: Path, angles: tuple[str, ...] = ANGLES, num_folds: int = 10) -> ParsedDataset:
    """Images with angle in `angles`, split 'train'; subject = gender + id (F n -> n, M n -> 1000 + n);
    extra feature 'view' = index in ANGLES; fold = num_folds subject-disjoint folds."""
    def fields(path: Path, match: re.Match) -> NameFields:
        code, angle = match.group(4).upper(), match.group(5).upper()
        label = label_codes.canonical_id(LABELS, code, where=path.name, dataset="KDEF")
        subject = gendered_subject_id(match.group(2), int(match.group(3)))
        if angle not in angles:
            return NameFields(label, subject, keep=False, reason="angle not in this config")
        return NameFields(label, subject, extras={"view": np.int64(ANGLES.index(angle))})

    parsed = scan_named_images(root, PATTERN, fields, WHAT)
    return with_subject_kfold(parsed, num_folds)
