"""Where the compositing renderer's backgrounds come from.

A background source is any callable `(rng, size) -> uint8 (size, size, 3)`: the procedural
generator (ferjax.synth.backgrounds.colour_blobs, the default), FERSynth's backgrounds, random
crops of an array stack (N, H, W, 3) or of the images in a folder.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Callable

import cv2
import numpy as np

from ferjax.synth import backgrounds

BackgroundSource = Callable[[np.random.Generator, int], np.ndarray]
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def random_crop(image: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    if min(h, w) < size:
        factor = size / min(h, w)
        image = cv2.resize(image, (max(size, round(w * factor)), max(size, round(h * factor))),
                           interpolation=cv2.INTER_LINEAR)
        h, w = image.shape[:2]
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    return np.ascontiguousarray(image[y:y + size, x:x + size])


def as_rgb(image: np.ndarray, what: str) -> np.ndarray:
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3) or image.dtype != np.uint8:
        raise ValueError(f"{what}: expected uint8 (H, W, 1|3), got {image.dtype} {image.shape}")
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


@dataclasses.dataclass(frozen=True)
class ArrayBackgrounds:
    """Random crops of a stack of uint8 images (N, H, W, 3) (or (N, H, W) grey)."""

    images: np.ndarray

    def __post_init__(self):
        if self.images.ndim not in (3, 4) or len(self.images) == 0:
            raise ValueError(f"ArrayBackgrounds: expected a non-empty (N, H, W[, 3]) stack, "
                             f"got shape {self.images.shape}")

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        image = as_rgb(self.images[int(rng.integers(len(self.images)))], "ArrayBackgrounds")
        return random_crop(image, rng, size)


@dataclasses.dataclass(frozen=True)
class FolderBackgrounds:
    """Random crops of the images in a folder (searched recursively), read on demand."""

    folder: str

    def __post_init__(self):
        root = pathlib.Path(self.folder)
        if not root.is_dir():
            raise FileNotFoundError(f"background folder {self.folder} does not exist")
        files = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"background folder {self.folder} holds no images "
                             f"({', '.join(_IMAGE_SUFFIXES)})")
        object.__setattr__(self, "files", tuple(files))

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        path = self.files[int(rng.integers(len(self.files)))]
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"background image {path} cannot be read (corrupt or not an image)")
        return random_crop(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), rng, size)


@dataclasses.dataclass(frozen=True)
class FERSynthBackgrounds:
    """FERSynth's procedural backgrounds (ferjax.synth.backgrounds), kinds drawn with the given
    odds (default: its `composite` preset's gradient/clutter mix)."""

    kinds: tuple[str, ...] = ("gradient", "clutter")
    probs: tuple[float, ...] = (0.4, 0.6)

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        kind = self.kinds[int(rng.choice(len(self.kinds), p=np.asarray(self.probs) /
                                         np.sum(self.probs)))]
        return backgrounds.render_background(rng, kind, (size, size, 3))


def as_background_source(source: Any = None) -> BackgroundSource:
    """None or "" → the procedural colour_blobs; "fersynth" → FERSynthBackgrounds; a
    callable → itself; an array → ArrayBackgrounds; another path → FolderBackgrounds."""
    if source is None or (isinstance(source, str) and not source):
        return backgrounds.colour_blobs
    if isinstance(source, str) and source == "fersynth":
        return FERSynthBackgrounds()
    if isinstance(source, np.ndarray):
        return ArrayBackgrounds(source)
    if isinstance(source, (str, pathlib.Path)):
        return FolderBackgrounds(str(source))
    if callable(source):
        return source
    raise TypeError(f"background source must be None, a callable, an array or a folder path, "
                    f"got {type(source).__name__}")
