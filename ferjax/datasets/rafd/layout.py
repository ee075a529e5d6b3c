"""RaFD: Rafd090_28_Caucasian_male_angry_frontal.jpg (camera, model, ethnicity, gender,
emotion, gaze). manual_dir/<any folders>/Rafd*.jpg"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import numpy as np

from ferjax import labels
from ferjax.data import splits
from ferjax.data.real import label_codes
from ferjax.data.real.example import ParsedDataset, with_folds
from ferjax.data.real.named_files import NameFields, scan_named_images

# File names Rafd090_28_Caucasian_male_angry_frontal.jpg: the emotion word.
LABELS: Mapping[str, str] = {
    "angry": "anger", "contemptuous": "contempt", "disgusted": "disgust", "fearful": "fear",
    "happy": "happy", "neutral": "neutral", "sad": "sad", "surprised": "surprise",
}

CAMERAS = (0, 45, 90, 135, 180)
FRONT_CAMERA = 90
PATTERN = re.compile(r"^Rafd(\d{3})_(\d+)_([A-Za-z]+)_([A-Za-z]+)_([A-Za-z]+)_([A-Za-z]+)\.jpe?g$",
                     re.IGNORECASE)
WHAT = "unpack the RaFD archive here (files like Rafd090_28_Caucasian_male_angry_frontal.jpg)"


def parse(root: Path, cameras: tuple[int, ...] = CAMERAS, include_contempt: bool = False) -> ParsedDataset:
    """Images from `cameras` in split 'train'; subject = model id; fold = Sun et al.'s ranges;
    extra feature 'view' = camera angle in degrees (0..180, 90 frontal)."""
    contempt = labels.class_index("contempt")

    def fields(path: Path, match: re.Match) -> NameFields:
        camera, model, emotion = int(match.group(1)), int(match.group(2)), match.group(5).lower()
        if camera not in CAMERAS:
            raise ValueError(f"{path.name}: unknown RaFD camera angle {camera:03d}; known {CAMERAS}")
        label = label_codes.canonical_id(LABELS, emotion, where=path.name, dataset="RaFD")
        if camera not in cameras:
            return NameFields(label, model, keep=False, reason="camera angle not in this config")
        if label == contempt and not include_contempt:
            return NameFields(label, model, keep=False, reason="contempt (include_contempt=False)")
        return NameFields(label, model, extras={"view": np.int64(camera)})

    return with_folds(scan_named_images(root, PATTERN, fields, WHAT), splits.sun_rafd_folds)
