"""BU-3DFE 2-D images: F0001_AN01WH_F2D.bmp = subject, expression + intensity (NE00 neutral),
ethnicity, frontal 2-D image. manual_dir/<any folders>/*_F2D.bmp"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import numpy as np

from ferjax.data.real import label_codes
from ferjax.data.real.example import ParsedDataset, with_subject_kfold
from ferjax.data.real.named_files import NameFields, gendered_subject_id, scan_named_images

# File names F0001_AN01WH_F2D.bmp: the two letters after the subject.
LABELS: Mapping[str, str] = {
    "AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral", "SA": "sad",
    "SU": "surprise",
}

PATTERN = re.compile(r"^([FM])(\d{4})_([A-Z]{2})(\d{2})([A-Z]{2})_F2D\.bmp$", re.IGNORECASE)
WHAT = "unpack BU-3DFE here (subject folders of files like F0001_AN01WH_F2D.bmp)"


def parse(root: Path, min_intensity: int = 1, num_folds: int = 10) -> ParsedDataset:
    """Neutral images and expressions of intensity >= min_intensity (1..4), split 'train';
    subject id female n -> n, male n -> 1000 + n; extra feature 'intensity' (0 neutral, 1..4)."""
    neutral = label_codes.canonical_id(LABELS, "NE", where="table")

    def fields(path: Path, match: re.Match) -> NameFields:
        code, intensity = match.group(3).upper(), int(match.group(4))
        label = label_codes.canonical_id(LABELS, code, where=path.name, dataset="BU-3DFE")
        if not (0 <= intensity <= 4) or (label == neutral) != (intensity == 0):
            raise ValueError(f"{path.name}: intensity {intensity:02d} invalid for {code}")
        subject = gendered_subject_id(match.group(1), int(match.group(2)))
        if label != neutral and intensity < min_intensity:
            return NameFields(label, subject, keep=False, reason="intensity below min_intensity")
        return NameFields(label, subject, extras={"intensity": np.int64(intensity)})

    parsed = scan_named_images(root, PATTERN, fields, WHAT)
    return with_subject_kfold(parsed, num_folds)
