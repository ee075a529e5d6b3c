"""The builders' single face-preprocessing hook: crop, colour and resize one source image.

Every builder calls `make_face_preprocessor(options)` once and the returned function on each
image. Crop modes:
  "none"       centre window of the whole image, resized (no face localisation);
  "box"        window around the dataset's face box (AffectNet's CSV release), resized;
The window has the output's aspect ratio (a square for a square output), so faces keep theirs.
  "landmarks"  similarity alignment from landmarks  } delegated to
  "detect"     MTCNN detection then alignment       } ferjax.preprocess.pipeline.FacePreprocessor
  "tight"      "detect" with margin TIGHT_MARGIN    }
Landmarks and boxes are carried into the output frame so they stay valid labels.

crop_margin (crops "box", "landmarks", "detect") is the context kept on each side of the face,
as a fraction of the face square: of the box's longer side for "box", of the five-point
template's tight face square (ferjax.preprocess.align: eyebrows to chin, cheek to cheek) for
the aligned crops. The output side is (1 + 2·margin) face squares: at the default 0.2 the face
square fills 1/1.4 = 71 % of the width; at 0 it fills the whole image.

"tight" is the preset for models trained on 48×48-style face crops (FER-2013, CK+48): the
template's face square fills the output, putting the eye centres 31 % of the width apart and the
eyes 46 % and the mouth 82 % of the way down. That approximates those datasets' framing (faces
filling the frame from the brows to the chin; the figures are the template's, not measured on
FER-2013 here), where the default margin leaves a wider frame of hair and background that such
models never saw.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

import cv2
import numpy as np

CROP_MODES = ("none", "box", "landmarks", "detect", "tight")
_DELEGATED = ("landmarks", "detect", "tight")
ILLUMINATIONS = ("none", "isotropic")
# Context kept on each side of the face (fraction of the face square; see module docstring).
DEFAULT_MARGIN = 0.2
TIGHT_MARGIN = 0.0
MAX_MARGIN = 10.0


@dataclasses.dataclass(frozen=True)
class FaceOptions:
    """image_size: output side in pixels, or (height, width) for a non-square output (Sun et
    al.'s RaFD-FRONT is 160×125); grey: 1 channel (else 3); crop: one of CROP_MODES;
    mask: also return a face mask; illumination: 'none' or 'isotropic' (Gross & Brajovic, as
    Sun et al.; applied to the output image in every crop mode). mask needs a delegated crop
    ('landmarks', 'detect' or 'tight'). crop_margin: face margin in [0, 10) (module
    docstring); 'tight' fixes it at TIGHT_MARGIN."""
    image_size: int | tuple[int, int] = 128
    grey: bool = False
    crop: str = "none"
    mask: bool = False
    illumination: str = "none"
    crop_margin: float = DEFAULT_MARGIN

    def __post_init__(self):
        if self.crop not in CROP_MODES:
            raise ValueError(f"crop={self.crop!r}: expected one of {CROP_MODES}")
        size = self.image_size
        sides = tuple(size) if isinstance(size, (tuple, list)) else (size,)
        if (len(sides) not in (1, 2) or not all(isinstance(v, int) and not isinstance(v, bool)
                                               and v >= 1 for v in sides)):
            raise ValueError(f"image_size={size!r}: expected a positive int or (height, width)")
        if self.mask and self.crop not in _DELEGATED:
            raise ValueError(f"mask=True needs crop='landmarks', 'detect' or 'tight', got "
                             f"crop={self.crop!r}")
        if isinstance(self.crop_margin, bool) or not isinstance(self.crop_margin, (int, float)) \
                or not 0.0 <= self.crop_margin < MAX_MARGIN:
            raise ValueError(f"crop_margin={self.crop_margin!r}: expected a number in "
                             f"[0, {MAX_MARGIN:g}) (face margin per side, fraction of the face "
                             "square)")
        if self.crop == "tight" and self.crop_margin != DEFAULT_MARGIN:
            raise ValueError(f"crop='tight' fixes the face margin at {TIGHT_MARGIN}; for "
                             f"crop_margin={self.crop_margin} use crop='detect'")
        if self.illumination not in ILLUMINATIONS:
            raise ValueError(f"illumination={self.illumination!r}: expected one of "
                             f"{ILLUMINATIONS}")

    @property
    def margin(self) -> float:
        """The face margin this crop applies (TIGHT_MARGIN for 'tight')."""
        return TIGHT_MARGIN if self.crop == "tight" else float(self.crop_margin)

    @property
    def channels(self) -> int:
        return 1 if self.grey else 3

    @property
    def size_hw(self) -> tuple[int, int]:
        """(height, width) of the output in pixels."""
        size = self.image_size
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


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


def face_window(image_hw: tuple[int, int], box: np.ndarray | None, aspect: float = 1.0,
                margin: float = DEFAULT_MARGIN) -> tuple[float, float, float, float]:
    """(x0, y0, width, height) of the source window, width/height = `aspect` (the output's):
    the largest such window centred in the image, or the box's enclosing window grown by
    `margin` × its longer side on each side."""
    h, w = image_hw
    if box is None:
        win_h = min(float(h), w / aspect)
        win_w = win_h * aspect
        return (w - win_w) / 2.0, (h - win_h) / 2.0, win_w, win_h
    x, y, bw, bh = (float(v) for v in box)
    win_h = max(bh, bw / aspect) * (1.0 + 2.0 * margin)
    win_w = win_h * aspect
    return x + bw / 2.0 - win_w / 2.0, y + bh / 2.0 - win_h / 2.0, win_w, win_h


def _integer_window(window):
    x0, y0, win_w, win_h = (int(round(v)) for v in window)
    return x0, y0, max(win_w, 1), max(win_h, 1)


def crop_resize(image: np.ndarray, window: tuple[float, float, float, float],
                size_hw: tuple[int, int]) -> np.ndarray:
    """Crop the window (zero padding where it leaves the image) and resize to (H, W)."""
    x0, y0, win_w, win_h = _integer_window(window)
    h, w = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + win_w - w, y0 + win_h - h)
    if pad:
        image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
        x0, y0 = x0 + pad, y0 + pad
    crop = image[y0:y0 + win_h, x0:x0 + win_w]
    out_h, out_w = size_hw
    interp = cv2.INTER_AREA if win_h > out_h else cv2.INTER_LINEAR
    out = cv2.resize(crop, (out_w, out_h), interpolation=interp)
    return out.reshape(out_h, out_w, image.shape[-1])


def _window_scale(window, size_hw) -> np.ndarray:
    _, _, win_w, win_h = _integer_window(window)
    return np.array([size_hw[1] / win_w, size_hw[0] / win_h], np.float32)


def _window_transform(window, size_hw):
    x0, y0, _, _ = _integer_window(window)
    scale = _window_scale(window, size_hw)
    return lambda xy: ((np.asarray(xy, np.float32) - np.array([x0, y0], np.float32)) * scale)


def crop_face(image: np.ndarray, landmarks: np.ndarray | None, box: np.ndarray | None,
              options: FaceOptions) -> PreparedFace:
    """'none' and 'box' crops: image uint8 (H, W, C) -> PreparedFace of options.size_hw."""
    use_box = box if options.crop == "box" and box is not None else None
    out_h, out_w = options.size_hw
    window = face_window(image.shape[:2], use_box, out_w / out_h, options.margin)
    out = crop_resize(convert_channels(image, options.grey), window, options.size_hw)
    if options.illumination == "isotropic":
        # Same normalisation and defaults as the delegated crops (ferjax.preprocess.pipeline).
        from ferjax.preprocess import illumination
        out = illumination.isotropic_diffusion_normalise(
            out, length=illumination.DEFAULT_LENGTH_FRACTION * min(options.size_hw))
    to_out = _window_transform(window, options.size_hw)
    new_lm = None if landmarks is None else to_out(landmarks).astype(np.float32)
    new_box = None
    if box is not None:
        corner = to_out(np.asarray(box[:2], np.float32)[None])[0]
        scale = _window_scale(window, options.size_hw)
        new_box = np.array([*corner, box[2] * scale[0], box[3] * scale[1]], np.float32)
    return PreparedFace(image=out, landmarks=new_lm, box=new_box)


def make_face_preprocessor(options: FaceOptions, detector=None,
                           detector_config=None) -> FacePreprocessFn:
    """The function a builder calls per image: (image, landmarks|None, box|None) -> PreparedFace.

    Delegated crops also take `points=` (5, 2): a face already found by a detector, aligned
    with instead of detecting again (prediction classifies every face of a photo). detector:
    an MTCNN to share; detector_config: its MTCNNConfig (default the cascade's defaults)."""
    if options.crop not in _DELEGATED:
        return lambda image, landmarks, box: crop_face(image, landmarks, box, options)
    try:
        pipeline = importlib.import_module("ferjax.preprocess.pipeline")
    except ImportError as err:
        raise ValueError(
            f"crop={options.crop!r} needs ferjax.preprocess.pipeline.FacePreprocessor, which "
            f"cannot be imported here ({err}); use crop='none' or 'box'") from err
    # Built once per builder run: in "detect" mode it holds the compiled MTCNN.
    extra = {} if detector_config is None else {"detector": detector_config}
    shared = {} if detector is None else {"detector": detector}
    preprocessor = pipeline.FacePreprocessor(pipeline.PreprocessConfig(
        output_size=options.size_hw, channels=options.channels,
        mode="detect" if options.crop == "tight" else options.crop,
        illumination=options.illumination, margin=options.margin, **extra), **shared)

    def delegated(image, landmarks, box, points=None):
        # The builders' call stays (image, landmarks): points only when a face is given.
        out = preprocessor(image, landmarks) if points is None else \
            preprocessor(image, landmarks, points=points)
        return PreparedFace(image=out["image"], landmarks=out["landmarks"], box=None,
                            mask=out["mask"], detected=bool(out["detected"]))
    return delegated
