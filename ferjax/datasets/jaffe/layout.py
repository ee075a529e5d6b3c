"""JAFFE: 213 grey TIFFs named KA.AN1.39.tiff (subject.expression+repeat.image-id).

manual_dir/<any folders>/KA.AN1.39.tiff
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ferjax.data import splits
from ferjax.data.real import label_codes
from ferjax.data.real.example import ParsedDataset, with_folds
from ferjax.data.real.named_files import NameFields, scan_named_images

# File names KA.AN1.39.tiff: the two letters after the subject.
LABELS: Mapping[str, str] = {
    "AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral", "SA": "sad",
    "SU": "surprise",
}

SUBJECTS = ("KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM")
PATTERN = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d+)\.(\d+)\.tiff?$", re.IGNORECASE)
WHAT = "unpack the JAFFE archive here (files like KA.AN1.39.tiff)"


def _fields(path: Path, match: re.Match) -> NameFields:
    subject, code = match.group(1).upper(), match.group(2).upper()
    if subject not in SUBJECTS:
        raise ValueError(f"{path.name}: unknown JAFFE subject {subject!r}; known: {SUBJECTS}")
    label = label_codes.canonical_id(LABELS, code, where=path.name, dataset="JAFFE")
    return NameFields(label=label, subject_id=SUBJECTS.index(subject))


def parse(root: Path) -> ParsedDataset:
    """All images in split 'train'; subject id = index in SUBJECTS; fold = leave-one-subject-out."""
    return with_folds(scan_named_images(root, PATTERN, _fields, WHAT), splits.leave_one_subject_out)
