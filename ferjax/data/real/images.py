"""Image decoding for the builders: files and pixel strings -> uint8 (H, W, C), C = 1 or 3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ferjax.data.real.errors import UnreadableImage

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".ppm", ".pgm")


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _as_l_or_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("L", "RGB"):
        return img
    if img.mode == "P":
        # JAFFE ships palette TIFFs with a grey palette: keep them single-channel.
        rgb = np.asarray(img.convert("RGB"))
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
            return img.convert("L")
        return img.convert("RGB")
    if img.mode in ("1", "LA", "I", "I;16", "I;16B", "I;16L", "F"):
        return img.convert("L")
    return img.convert("RGB")


def load_image(path: Path) -> np.ndarray:
    """Decode an image file to uint8 (H, W, C) with C = 1 (grey) or 3 (RGB).

    Raises UnreadableImage (with the path and the decoder's reason) for missing, truncated or
    corrupt files, so builders can skip and report them.
    """
    try:
        with Image.open(path) as img:
            img.load()  # decoding is lazy: a truncated file only fails here
            array = np.asarray(_as_l_or_rgb(img), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
        raise UnreadableImage(f"{path}: {type(err).__name__}: {err}") from err
    return array[..., None] if array.ndim == 2 else array


def image_from_pixels(text: str, shape: tuple[int, int], *, where: str) -> np.ndarray:
    """FER-2013's space-separated grey pixel string -> uint8 (H, W, 1).

    Raises UnreadableImage naming `where` when the count or values are wrong.
    """
    try:
        values = np.array(text.split(), dtype=np.int64)
    except ValueError as err:
        raise UnreadableImage(f"{where}: pixels are not integers ({err})") from err
    if values.size != shape[0] * shape[1]:
        raise UnreadableImage(f"{where}: {values.size} pixels, expected {shape[0] * shape[1]}")
    if values.min(initial=0) < 0 or values.max(initial=0) > 255:
        raise UnreadableImage(f"{where}: pixel values outside 0..255")
    return values.astype(np.uint8).reshape(*shape, 1)
