"""Tiny fixture trees in each real dataset's layout, and a helper to build and read a builder.

Shared by tests/test_real_*.py; images are 8x8 (or 48x48 where the layout says so) with
pixel values derived from an index so tests can tell examples apart.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, value: int, size=(8, 8), mode="L", fmt=None) -> Path:
    """An image whose pixels are all `value` (RGB: value, value+1, value+2)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = size
    if mode == "L":
        array = np.full((h, w), value, np.uint8)
    else:
        array = np.stack([np.full((h, w), value + i, np.uint8) for i in range(3)], -1)
    Image.fromarray(array, mode).save(path, format=fmt)
    return path


def write_truncated_jpeg(path: Path) -> Path:
    """A JPEG cut in half: opens, but fails to decode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path, "JPEG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_csv(path: Path, header, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def landmark_text(offset: float) -> str:
    return "\n".join(f"   {offset + i:.7e}   {offset + 2 * i:.7e}" for i in range(68)) + "\n"


def ckplus_tree(root: Path) -> Path:
    """S005/001: 5 frames, emotion 3 (disgust), landmarks on frame 5, FACS on frame 5;
    S005/002: 2 frames, no emotion file; S010/001: 4 frames, emotion 7 (surprise)."""
    img = root / "cohn-kanade-images"
    for i in range(1, 6):
        write_image(img / "S005/001" / f"S005_001_{i:08d}.png", 10 * i)
    for i in range(1, 3):
        write_image(img / "S005/002" / f"S005_002_{i:08d}.png", 100 + i)
    for i in range(1, 5):
        write_image(img / "S010/001" / f"S010_001_{i:08d}.png", 150 + i, mode="RGB")
    (root / "Emotion/S005/001").mkdir(parents=True)
    (root / "Emotion/S005/001/S005_001_00000005_emotion.txt").write_text("   3.0000000e+00\n")
    (root / "Emotion/S005/002").mkdir(parents=True)  # folder without a file: unlabelled
    (root / "Emotion/S010/001").mkdir(parents=True)
    (root / "Emotion/S010/001/S010_001_00000004_emotion.txt").write_text("   7.0000000e+00\n")
    (root / "Landmarks/S005/001").mkdir(parents=True)
    (root / "Landmarks/S005/001/S005_001_00000005_landmarks.txt").write_text(landmark_text(1.0))
    (root / "FACS/S005/001").mkdir(parents=True)
    (root / "FACS/S005/001/S005_001_00000005_facs.txt").write_text(
        "   9.0000000e+00   4.0000000e+00\n   1.5000000e+01   0.0000000e+00\n")
    return root


def jaffe_tree(root: Path) -> Path:
    """KA happy, KA neutral (palette TIFF), YM anger, KL sad."""
    write_image(root / "jaffe/KA.HA1.29.tiff", 11)
    pal = Image.fromarray(np.full((8, 8), 3, np.uint8), "L").convert("P")
    pal.save(root / "jaffe/KA.NE1.26.tiff")
    write_image(root / "jaffe/YM.AN2.62.tiff", 33)
    write_image(root / "jaffe/KL.SA1.39.tiff", 44)
    (root / "jaffe/README").write_text("not an image")
    return root


def fer2013_tree(root: Path, duplicate=True, bad_row=True) -> Path:
    """5 rows: 2 Training, 1 PublicTest (identical to training row 0 when duplicate),
    1 PrivateTest, and a PrivateTest row with too few pixels when bad_row."""
    def pixels(v):
        return " ".join([str(v)] * 2304)
    rows = [[0, pixels(10), "Training"], [6, pixels(20), "Training"],
            [3, pixels(10 if duplicate else 30), "PublicTest"], [5, pixels(40), "PrivateTest"]]
    if bad_row:
        rows.append([4, "1 2 3", "PrivateTest"])
    write_csv(root / "fer2013.csv", ["emotion", "pixels", "Usage"], rows)
    return root
