"""The FERSynth sample grid of docs/: the eight classes (columns) for several subjects under
each preset (rows).

    python -m ferjax.synth.sample_grid docs/images/fersynth_grid.png
"""

from __future__ import annotations

import sys

import cv2
import numpy as np

from ferjax import labels
from ferjax.synth.config import preset
from ferjax.synth.example import render_subject_example

CELL = (128, 104)  # (H, W) of one tile
_ROWS = (("front", 0, 0), ("front", 4, 1), ("pose", 6, 0), ("pose", 9, 2), ("wild", 1, 0),
         ("wild", 7, 1), ("composite", 2, 0), ("composite", 5, 3))


def _tile(image: np.ndarray) -> np.ndarray:
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    h, w = image.shape[:2]
    scale = min(CELL[0] / h, CELL[1] / w)
    resized = cv2.resize(image, (round(w * scale), round(h * scale)),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    tile = np.full((*CELL, 3), 255, np.uint8)
    top, left = (CELL[0] - resized.shape[0]) // 2, (CELL[1] - resized.shape[1]) // 2
    tile[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return tile


def sample_grid(seed: int = 0) -> np.ndarray:
    """RGB uint8 grid: a header row of class names, then one row per (preset, subject)."""
    header = np.full((24, CELL[1] * len(labels.CLASSES) + 90, 3), 255, np.uint8)
    for j, name in enumerate(labels.CLASSES):
        cv2.putText(header, name, (90 + j * CELL[1] + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    rows = [header]
    for preset_name, subject, variant in _ROWS:
        config = preset(preset_name)
        tiles = [_tile(render_subject_example(config, seed, subject, name, variant)["image"])
                 for name in labels.CLASSES]
        label = np.full((CELL[0], 90, 3), 255, np.uint8)
        cv2.putText(label, preset_name, (4, CELL[0] // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.concatenate([label] + tiles, axis=1))
    return np.concatenate(rows, axis=0)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -m ferjax.synth.sample_grid OUTPUT.png")
    from PIL import Image
    # a 256-colour palette keeps the committed figure small; the tiles stay faithful
    Image.fromarray(sample_grid()).quantize(256, method=Image.Quantize.MEDIANCUT).save(
        argv[1], optimize=True)


if __name__ == "__main__":
    main(sys.argv)
