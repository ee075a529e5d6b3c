"""The builders' single face-preprocessing hook: crop, colour and resize one source image.

Every builder calls `make_face_preprocessor(options)` once and the returned function on each
image. Crop modes:
  "none"       centre square of the whole image, resized (no face localisation);
  "box"        square around the dataset's face box (AffectNet's CSV release), resized;
  "landmarks"  similarity alignment from landmarks  } delegated to
  "detect"     MTCNN detection then alignment       } ferjax.preprocess.pipeline.FacePreprocessor
Landmarks and boxes are carried into the output frame so they stay valid labels.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

import cv2
import numpy as np

CROP_MODES = ("none", "box", "landmarks", "detect")
_DELEGATED = ("landmarks", "detect")
# Context kept around a dataset face box (fraction of its longer side on each side).
BOX_MARGIN = 0.2


@dataclasses.dataclass(frozen=True)
class FaceOptions:
    """image_size: output side in pixels; grey: 1 channel (else 3); crop: one of CROP_MODES;
    mask: also return a face mask; illumination: 'none' or 'isotropic' (Gross & Brajovic, as
    Sun et al.). mask and illumination need a delegated crop ('landmarks' or 'detect')."""
    image_size: int = 128
    grey: bool = False
    crop: str = "none"
    mask: bool = False
    illumination: str = "none"

    def __post_init__(self):
        if self.crop not in CROP_MODES:
            raise ValueError(f"crop={self.crop!r}: expected one of {CROP_MODES}")
        if not isinstance(self.image_size, int) or self.image_size < 1:
            raise ValueError(f"image_size={self.image_size!r}: expected a positive int")
        if self.mask and self.crop not in _DELEGATED:
            raise ValueError(f"mask=True needs crop='landmarks' or 'detect', got crop={self.crop!r}")
        if self.illumination != "none" and self.crop not in _DELEGATED:
            raise ValueError(f"illumination={self.illumination!r} needs crop='landmarks' or "
                             f"'detect', got crop={self.crop!r}")

    @property
    def channels(self) -> int:
        return 1 if self.grey else 3


@dataclasses.dataclass(frozen=True)
class PreparedFace:
    """image uint8 (S, S, C); landmarks float32 (68, 2) output pixels or None; box float32 (4,)
    x, y, w, h output pixels or None; mask uint8 (S, S, 1) or None; detected: False when a
    detector fell back to the full image."""
    image: np.ndarray
    landmarks: np.ndarray | None = None
    box: np.ndarray | None = None
    mask: np.ndarray | None = None
    detected: bool = True


FacePreprocessFn = Callable[[np.ndarray, "np.ndarray | None", "np.ndarray | None"], PreparedFace]


def convert_channels(image: np.ndarray, grey: bool) -> np.ndarray:
    """uint8 (H, W, 1|3) -> (H, W, 1) when grey else (H, W, 3)."""
    if grey and image.shape[-1] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None]
    if not grey and image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    return image


def square_window(image_hw: tuple[int, int], box: np.ndarray | None) -> tuple[float, float, float]:
    """(x0, y0, side) of the square source window: the image's centre square, or the box's
    enclosing square grown by BOX_MARGIN on each side."""
    h, w = image_hw
    if box is None:
        side = float(min(h, w))
        return (w - side) / 2.0, (h - side) / 2.0, side
    x, y, bw, bh = (float(v) for v in box)
    side = max(bw, bh) * (1.0 + 2.0 * BOX_MARGIN)
    return x + bw / 2.0 - side / 2.0, y + bh / 2.0 - side / 2.0, side


def crop_resize(image: np.ndarray, window: tuple[float, float, float], size: int) -> np.ndarray:
    """Crop the square window (zero padding where it leaves the image) and resize to size²."""
    x0, y0, side = (int(round(v)) for v in window)
    side = max(side, 1)
    h, w = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
        x0, y0 = x0 + pad, y0 + pad
    crop = image[y0:y0 + side, x0:x0 + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    out = cv2.resize(crop, (size, size), interpolation=interp)
    return out.reshape(size, size, image.shape[-1])


def _window_transform(window, size):
    x0, y0, side = (int(round(v)) for v in window)
    scale = size / max(side, 1)
    return lambda xy: ((np.asarray(xy, np.float32) - np.array([x0, y0], np.float32)) * scale)


def crop_face(image: np.ndarray, landmarks: np.ndarray | None, box: np.ndarray | None,
              options: FaceOptions) -> PreparedFace:
    """'none' and 'box' crops: image uint8 (H, W, C) -> PreparedFace of side options.image_size."""
    use_box = box if options.crop == "box" and box is not None else None
    window = square_window(image.shape[:2], use_box)
    out = crop_resize(convert_channels(image, options.grey), window, options.image_size)
    to_out = _window_transform(window, options.image_size)
    new_lm = None if landmarks is None else to_out(landmarks).astype(np.float32)
    new_box = None
    if box is not None:
        corner = to_out(np.asarray(box[:2], np.float32)[None])[0]
        scale = options.image_size / max(int(round(window[2])), 1)
        new_box = np.array([*corner, box[2] * scale, box[3] * scale], np.float32)
    return PreparedFace(image=out, landmarks=new_lm, box=new_box)


def make_face_preprocessor(options: FaceOptions) -> FacePreprocessFn:
    """The function a builder calls per image: (image, landmarks|None, box|None) -> PreparedFace."""
    if options.crop not in _DELEGATED:
        return lambda image, landmarks, box: crop_face(image, landmarks, box, options)
    try:
        pipeline = importlib.import_module("ferjax.preprocess.pipeline")
    except ImportError as err:
        raise ValueError(
            f"crop={options.crop!r} needs ferjax.preprocess.pipeline.FacePreprocessor, which "
            f"cannot be imported here ({err}); use crop='none' or 'box'") from err
    # Built once per builder run: in "detect" mode it holds the compiled MTCNN.
    preprocessor = pipeline.FacePreprocessor(pipeline.PreprocessConfig(
        output_size=(options.image_size, options.image_size), channels=options.channels,
        mode=options.crop, illumination=options.illumination))

    def delegated(image, landmarks, box):
        out = preprocessor(image, landmarks)
        return PreparedFace(image=out["image"], landmarks=out["landmarks"], box=None,
                            mask=out["mask"], detected=bool(out["detected"]))
    return delegated
