"""Synthetic group photos: several FERSynth faces pasted on one background, with their boxes.

Sun et al. 2018 (§4.6, Fig. 7) show the attention network's map on HAPPEI group photos. No
group photo ships here, so `compose_group` makes one: it knows where every face is, which a
real photo only tells through a face detector.
"""

from __future__ import annotations

import cv2
import numpy as np

from ferjax.synth.backgrounds import render_background
from ferjax.synth.config import SynthConfig
from ferjax.synth.example import render_example


def _paste(canvas: np.ndarray, face: np.ndarray, alpha: np.ndarray, top: int, left: int) -> None:
    """Alpha-blends face (h, w, C) into canvas in place; alpha float (h, w, 1) in [0, 1]."""
    h, w = face.shape[:2]
    region = canvas[top:top + h, left:left + w].astype(np.float32)
    blended = alpha * face.astype(np.float32) + (1.0 - alpha) * region
    canvas[top:top + h, left:left + w] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def compose_group(config: SynthConfig, seed: int = 0, num_faces: int = 4,
                  size: tuple[int, int] = (224, 512), scale_range: tuple[float, float] = (0.75, 1.0),
                  background: str = "clutter") -> tuple[np.ndarray, np.ndarray]:
    """A deterministic group image of `num_faces` FERSynth faces side by side on a background.

    Each face is one `render_example(config, seed, i)` record, resized by a factor drawn from
    scale_range and cut out along its face mask (the tile's own plain background is dropped, so
    the only background is the group's). Faces sit in equal-width columns, at a random height,
    never overlapping.

    Args:
      config: the FERSynth renderer configuration of the faces (its channels are the image's).
      seed: makes the faces, their scales and positions and the background.
      size: (H, W) of the group image in pixels.
    Returns:
      image uint8 (H, W, C); boxes float32 (num_faces, 4) x1, y1, x2, y2 in pixels: the bounding
      box of each pasted face mask (x2, y2 exclusive).
    """
    height, width = size
    rng = np.random.default_rng([seed, 0x6703])  # its own stream: faces keep theirs
    channels = config.channels
    canvas = render_background(rng, background, (height, width, channels))
    column = width // num_faces
    boxes = []
    for i in range(num_faces):
        record = render_example(config, seed, i)
        scale = float(rng.uniform(*scale_range))
        fh, fw = record["image"].shape[:2]
        th = min(height, int(round(fh * scale)))
        tw = min(column, int(round(fw * th / fh)))  # aspect ratio kept
        face = cv2.resize(record["image"], (tw, th), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(record["mask"], (tw, th), interpolation=cv2.INTER_AREA)
        face = face.reshape(th, tw, channels)
        alpha = (mask.reshape(th, tw, 1).astype(np.float32) / 255.0)
        top = int(rng.integers(0, height - th + 1))
        left = i * column + int(rng.integers(0, column - tw + 1))
        _paste(canvas, face, alpha, top, left)
        ys, xs = np.nonzero(alpha[..., 0] > 0.5)
        boxes.append([left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1])
    return canvas, np.asarray(boxes, np.float32)
