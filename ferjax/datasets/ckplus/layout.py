"""CK+ official layout: image sequences with per-peak-frame Emotion, FACS and Landmarks files.

manual_dir/cohn-kanade-images (or extended-cohn-kanade-images)/S005/001/S005_001_00000011.png
manual_dir/Emotion/S005/001/S005_001_00000011_emotion.txt    (one float code; peak frame only)
manual_dir/FACS/S005/001/S005_001_00000011_facs.txt          (optional; "AU intensity" lines)
manual_dir/Landmarks/S005/001/S005_001_00000011_landmarks.txt (optional; 68 "x y" lines)
Only sequences with an emotion file are labelled (the others are counted as excluded).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Mapping

import numpy as np

from ferjax.data.real import label_codes
from ferjax.data.real.errors import first_existing, require
from ferjax.data.real.example import ParsedDataset, RawExample, relative_key, with_subject_kfold
from ferjax.data.real.images import is_image_file, load_image

# Emotion/*_emotion.txt (one float per file).
LABELS: Mapping[int, str] = {
    0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sad",
    7: "surprise",
}

IMAGE_DIRS = ("cohn-kanade-images", "extended-cohn-kanade-images")
# AU vector index = AU number - 1; FACS codes run up to the gross-behaviour codes in the 80s.
NUM_AUS = 100
FACS_MAX_INTENSITY = 5.0  # A..E
SUBJECT = re.compile(r"^S(\d{3})$")


def read_emotion(path: Path) -> int:
    """Canonical id from an Emotion/*_emotion.txt file (LabelCodeError names file and line)."""
    text = path.read_text().strip()
    code = label_codes.parse_int_code(text, where=f"{path}:1")
    return label_codes.canonical_id(LABELS, code, where=f"{path}:1", dataset="CK+")


def read_landmarks(path: Path) -> np.ndarray:
    """68 'x y' lines -> float32 (68, 2); ValueError naming the file when malformed."""
    try:
        points = np.loadtxt(path, dtype=np.float32, ndmin=2)
    except ValueError as err:
        raise ValueError(f"{path}: malformed landmarks ({err})") from err
    if points.shape != (68, 2):
        raise ValueError(f"{path}: landmarks have shape {points.shape}, expected (68, 2)")
    return points


def read_facs(path: Path) -> np.ndarray:
    """'AU intensity' lines -> float32 (NUM_AUS,): intensity / 5 for coded AUs, 0 for AUs the
    coder did not list, NaN for an AU listed with unspecified intensity (0)."""
    au = np.zeros((NUM_AUS,), np.float32)
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            number, intensity = (float(v) for v in line.split())
        except ValueError:
            raise ValueError(f"{path}:{line_no}: expected 'AU intensity', got {line.strip()!r}") from None
        if number != int(number) or not 1 <= number <= NUM_AUS:
            raise ValueError(f"{path}:{line_no}: AU {number:g} outside 1..{NUM_AUS}")
        au[int(number) - 1] = np.nan if intensity == 0 else intensity / FACS_MAX_INTENSITY
    return au


def _frame_files(sequence_dir: Path) -> list[Path]:
    return sorted(p for p in sequence_dir.iterdir() if is_image_file(p))


def _sibling(root: Path, folder: str, frame: Path, images_root: Path, suffix: str) -> Path:
    rel = frame.relative_to(images_root)
    return root / folder / rel.parent / f"{frame.stem}_{suffix}.txt"


def parse(root: Path, peak_frames: int = 3, include_neutral: bool = True,
          num_folds: int = 10) -> ParsedDataset:
    """All labelled sequences: the last `peak_frames` frames with the sequence's emotion and,
    when include_neutral, its first frame as neutral. Everything goes to split 'train';
    subject id = the number in S<nnn>; fold = num_folds subject-disjoint folds; extra feature
    'au' (NUM_AUS,) from the FACS file of the coded frame, NaN on uncoded frames."""
    if peak_frames < 1:
        raise ValueError(f"peak_frames={peak_frames}: must be >= 1")
    images_root = first_existing([root / d for d in IMAGE_DIRS],
                                 "unpack the CK+ image archive (S005/001/*.png folders) here")
    emotion_root = require(root / "Emotion", "unpack the CK+ Emotion archive (Emotion/S005/001/*_emotion.txt) here")
    parsed = ParsedDataset(splits={"train": []})
    au_nan = np.full((NUM_AUS,), np.nan, np.float32)
    for subject_dir in sorted(p for p in images_root.iterdir() if p.is_dir()):
        match = SUBJECT.match(subject_dir.name)
        if match is None:
            raise ValueError(f"{subject_dir}: subject folder must be named S<3 digits>")
        subject = int(match.group(1))
        for seq_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            frames = _frame_files(seq_dir)
            emotion_dir = emotion_root / subject_dir.name / seq_dir.name
            emotion_files = sorted(emotion_dir.glob("*_emotion.txt")) if emotion_dir.is_dir() else []
            if not frames:
                continue
            if not emotion_files:
                parsed.exclude("sequences without an emotion file")
                continue
            label = read_emotion(emotion_files[-1])
            chosen = [(f, label) for f in frames[-peak_frames:]]
            if include_neutral and len(frames) > peak_frames:
                chosen.insert(0, (frames[0], label_codes.canonical_id(
                    LABELS, 0, where=str(frames[0]))))
            for frame, frame_label in chosen:
                lm_path = _sibling(root, "Landmarks", frame, images_root, "landmarks")
                facs_path = _sibling(root, "FACS", frame, images_root, "facs")
                parsed.splits["train"].append(RawExample(
                    key=relative_key(frame, images_root), load=functools.partial(load_image, frame),
                    label=frame_label, source=str(frame), subject_id=subject,
                    landmarks=read_landmarks(lm_path) if lm_path.is_file() else None,
                    extras={"au": read_facs(facs_path) if facs_path.is_file() else au_nan}))
    return with_subject_kfold(parsed, num_folds)
