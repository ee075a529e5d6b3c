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


def rafd_tree(root: Path) -> Path:
    """Models 1 (fold 0), 16 (fold 1), 73 (fold 4); cameras 090 and 045; one contempt image."""
    names = ["Rafd090_01_Caucasian_female_angry_frontal.jpg",
             "Rafd090_16_Moroccan_male_happy_left.jpg",
             "Rafd045_16_Moroccan_male_surprised_right.jpg",
             "Rafd090_73_Kid_female_contemptuous_frontal.jpg",
             "Rafd180_73_Kid_female_fearful_frontal.jpg"]
    for i, name in enumerate(names):
        write_image(root / "RafDownload" / name, 20 * i, mode="RGB", size=(16, 8))
    return root


def kdef_tree(root: Path) -> Path:
    for i, name in enumerate(["AF01AFS.JPG", "AF01HAHL.JPG", "BM01NES.JPG", "AM35SUS.JPG"]):
        write_image(root / "KDEF" / name[:4] / name, 30 * i, mode="RGB", fmt="JPEG")
    return root


def bu3dfe_tree(root: Path) -> Path:
    for i, name in enumerate(["F0001_NE00WH_F2D.bmp", "F0001_AN04WH_F2D.bmp",
                              "M0044_HA01AE_F2D.bmp", "M0044_SU03AE_F2D.bmp"]):
        write_image(root / name[:5] / name, 40 * i, mode="RGB")
    (root / "F0001" / "F0001_AN04WH_F3D.bnd").write_text("0 0 0\n")
    return root


def rafdb_tree(root: Path) -> Path:
    lines = ["train_00001.jpg 4", "train_00002.jpg 7", "test_0001.jpg 1"]
    (root / "basic/EmoLabel").mkdir(parents=True)
    (root / "basic/EmoLabel/list_patition_label.txt").write_text("\n".join(lines) + "\n")
    for i, line in enumerate(lines):
        name = line.split()[0].replace(".jpg", "_aligned.jpg")
        write_image(root / "basic/Image/aligned" / name, 50 * i, mode="RGB", fmt="JPEG")
    return root


def sfew_tree(root: Path) -> Path:
    write_image(root / "Train/Angry/a.png", 1, mode="RGB")
    write_image(root / "Train/Happy/b.png", 2, mode="RGB")
    write_image(root / "Val/Neutral/c.png", 3, mode="RGB")
    (root / "Val/Neutral/Thumbs.db").write_bytes(b"x")
    return root


def affectnet_csv_tree(root: Path, header=True) -> Path:
    """training.csv: happy (box + landmarks), code 9 (excluded), contempt; validation.csv: sad
    with valence/arousal -2 (n/a)."""
    lm = ";".join(f"{v:.1f}" for i in range(68) for v in (10 + i, 20 + i))
    head = ["subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
            "facial_landmarks", "expression", "valence", "arousal"]
    write_csv(root / "Manually_Annotated_file_lists/training.csv", head,
              [["1/a.jpg", 8, 8, 16, 16, lm, 1, 0.5, 0.25], ["1/b.jpg", 0, 0, 32, 32, lm, 9, 0, 0],
               ["2/c.jpg", 4, 4, 24, 24, lm, 7, -0.5, 0.1]])
    write_csv(root / "Manually_Annotated_file_lists/validation.csv", head if header else None,
              [["2/d.jpg", 0, 0, 32, 32, lm, 2, -2, -2]])
    for i, name in enumerate(["1/a.jpg", "1/b.jpg", "2/c.jpg", "2/d.jpg"]):
        write_image(root / "Manually_Annotated_Images" / name, 60 * i, size=(32, 32), mode="RGB",
                    fmt="JPEG")
    return root


def affectnet_npy_tree(root: Path) -> Path:
    """train_set: 0 (anger 6), 1 (code 10, excluded); val_set: 2 (neutral) with landmarks."""
    items = {"train_set": [("0", "6"), ("1", "10")], "val_set": [("2", "0")]}
    for folder, entries in items.items():
        (root / folder / "annotations").mkdir(parents=True)
        for stem, code in entries:
            write_image(root / folder / "images" / f"{stem}.jpg", 7 * int(stem), size=(16, 16),
                        mode="RGB", fmt="JPEG")
            ann = root / folder / "annotations"
            np.save(ann / f"{stem}_exp.npy", np.array(code))
            np.save(ann / f"{stem}_val.npy", np.array("0.25"))
            np.save(ann / f"{stem}_aro.npy", np.array("-0.5"))
            np.save(ann / f"{stem}_lnd.npy", np.arange(136, dtype=np.float64).astype(str))
    return root


def ferplus_csv(root: Path) -> Path:
    """Votes for the 5 rows of fer2013_tree: clear happiness; tie (no majority); empty image
    name; majority contempt; unknown-dominated."""
    header = ["Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger",
              "disgust", "fear", "contempt", "unknown", "NF"]
    rows = [["Training", "fer0000000.png", 1, 8, 1, 0, 0, 0, 0, 0, 0, 0],
            ["Training", "fer0000001.png", 4, 4, 0, 0, 0, 0, 0, 0, 2, 0],
            ["PublicTest", "", 0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
            ["PrivateTest", "fer0000003.png", 2, 0, 0, 0, 0, 0, 0, 6, 1, 1],
            ["PrivateTest", "fer0000004.png", 0, 0, 0, 0, 0, 0, 0, 0, 9, 1]]
    return write_csv(root / "fer2013new.csv", header, rows)
