"""Per-image face preprocessing used by the dataset builders: locate the face (dataset landmarks
or MTCNN), align it to a template by a similarity, convert channels, optionally normalise the
illumination, and carry landmarks and a face mask into the output frame.

    preprocess = FacePreprocessor(PreprocessConfig(output_size=(224, 224), mode="detect"))
    record = preprocess(image_uint8_hwc, landmarks_68x2_or_None)
    record["image"], record["landmarks"], record["mask"], record["detected"]

When no face is located (no detection, or no usable landmarks in "landmarks" mode) the whole
image is resized to the output instead and `detected` is False, so builders can count and
report these fallbacks (EmotionalDAN reports < 2% on its test sets).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from ferjax.preprocess.align import (
    FIVE_POINT_TEMPLATE,
    alignment_matrix,
    five_points_from_68,
    resize_matrix,
    transform_points,
    warp_image,
)
from ferjax.preprocess.illumination import DEFAULT_LENGTH_FRACTION, isotropic_diffusion_normalise
from ferjax.preprocess.masks import hull_mask
from ferjax.preprocess.mtcnn import MTCNN, Detections, MTCNNConfig

MODES = ("none", "landmarks", "detect")
ILLUMINATIONS = ("none", "isotropic")


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """What FacePreprocessor does to every image.

    output_size: (H, W) of the output image in pixels.
    channels: 1 (grey, as all four papers train) or 3 (RGB).
    mode: "none" — resize the whole image; "landmarks" — align with the dataset's 68 landmarks;
      "detect" — align with the 5 points of the largest MTCNN detection.
    illumination: "none" or "isotropic" (Gross & Brajovic isotropic diffusion, as Sun et al.).
    margin: context around the template's tight face square, per side, as a fraction of it.
    template: 5 (x, y) points in the unit square of the tight face crop, in MTCNN order
      (image-left eye, image-right eye, nose, image-left mouth corner, image-right mouth corner).
    illumination_length: smoothing length of the luminance estimate as a fraction of the output's
      shorter side.
    illumination_clip_percent: percent of reflectance values saturated at each end of the stretch.
    detector: MTCNN cascade settings (mode "detect").
    """
    output_size: tuple[int, int] = (256, 256)
    channels: int = 1
    mode: str = "detect"
    illumination: str = "none"
    margin: float = 0.2
    template: tuple[tuple[float, float], ...] = FIVE_POINT_TEMPLATE
    illumination_length: float = DEFAULT_LENGTH_FRACTION
    illumination_clip_percent: float = 1.0
    detector: MTCNNConfig = MTCNNConfig()

    def __post_init__(self):
        size = tuple(self.output_size)
        if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s >= 8 for s in size):
            raise ValueError(f"PreprocessConfig.output_size must be (H, W) integers >= 8, "
                             f"got {self.output_size}")
        if self.channels not in (1, 3):
            raise ValueError(f"PreprocessConfig.channels must be 1 or 3, got {self.channels}")
        if self.mode not in MODES:
            raise ValueError(f"PreprocessConfig.mode must be one of {MODES}, got {self.mode!r}")
        if self.illumination not in ILLUMINATIONS:
            raise ValueError(f"PreprocessConfig.illumination must be one of {ILLUMINATIONS}, "
                             f"got {self.illumination!r}")
        if not 0.0 <= self.margin < 10.0:
            raise ValueError(f"PreprocessConfig.margin must be in [0, 10), got {self.margin}")
        template = np.asarray(self.template, np.float64)
        if template.shape != (5, 2) or not np.isfinite(template).all():
            raise ValueError(f"PreprocessConfig.template must be 5 finite (x, y) points, got "
                             f"shape {template.shape}")
        if not 0.0 < self.illumination_length <= 1.0:
            raise ValueError(f"PreprocessConfig.illumination_length must be in (0, 1], got "
                             f"{self.illumination_length}")
        if not 0.0 <= self.illumination_clip_percent < 50.0:
            raise ValueError(f"PreprocessConfig.illumination_clip_percent must be in [0, 50), "
                             f"got {self.illumination_clip_percent}")


def check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"image must be uint8 (H, W, 1|3), got {image.dtype} {image.shape}")
    if min(image.shape[:2]) < 2:
        raise ValueError(f"image is too small: {image.shape}")
    return image


def check_landmarks(landmarks: np.ndarray | None) -> np.ndarray | None:
    """(68, 2) float landmarks, or None when absent (None or any NaN, the records' convention)."""
    if landmarks is None:
        return None
    landmarks = np.asarray(landmarks, np.float32)
    if landmarks.shape != (68, 2):
        raise ValueError(f"landmarks must have shape (68, 2), got {landmarks.shape}")
    if np.isnan(landmarks).any():
        return None
    if not np.isfinite(landmarks).all():
        raise ValueError("landmarks contain infinity")
    return landmarks


def convert_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (H, W, 1|3) RGB or grey -> (H, W, channels)."""
    if image.shape[2] == channels:
        return image
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None]
    return np.repeat(image, 3, axis=2)


def largest_face(detections: Detections) -> np.ndarray | None:
    """5 points (5, 2) of the detection with the largest box area, None when there is none
    (Sun et al. keep the biggest box)."""
    if not len(detections):
        return None
    sides = detections.boxes[:, 2:] - detections.boxes[:, :2]
    return detections.points[int(np.argmax(sides[:, 0] * sides[:, 1]))]


class FacePreprocessor:
    """Callable `(image uint8 (H, W, C), landmarks float32 (68, 2) | None) -> dict` with
    image uint8 (H', W', channels), landmarks float32 (68, 2) in the output frame (NaN when
    absent), mask uint8 (H', W', 1) (255 in the landmarks' convex hull; all 255 when there are
    no landmarks) and detected (bool: the face was located and aligned; always False in mode
    "none").

    In mode "detect" the MTCNN weights are loaded at construction (needs the `detect` extra).
    """

    def __init__(self, config: PreprocessConfig = PreprocessConfig(), detector: MTCNN | None = None):
        self.config = config
        self.detector = None
        if config.mode == "detect":
            self.detector = detector if detector is not None else MTCNN(config=config.detector)

    def detect_faces(self, image: np.ndarray) -> Detections:
        """Every MTCNN detection of a uint8 (H, W, 1|3) image (mode "detect"), best first:
        prediction classifies each face, where the builders keep only largest_face."""
        if self.detector is None:
            raise ValueError(f"FacePreprocessor.detect_faces needs mode 'detect', not "
                             f"{self.config.mode!r}")
        return self.detector.detect(check_image(image))

    def face_points(self, image: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray | None:
        """The 5 points to align with, or None to fall back to the whole image."""
        if self.config.mode == "landmarks" and landmarks is not None:
            return five_points_from_68(landmarks)
        if self.config.mode == "detect":
            return largest_face(self.detector.detect(image))
        return None

    def __call__(self, image: np.ndarray, landmarks: np.ndarray | None = None,
                 points: np.ndarray | None = None) -> dict:
        """points: (5, 2) MTCNN-order points of an already located face (one of detect_faces'),
        aligned with instead of locating the face here."""
        config = self.config
        image = check_image(image)
        landmarks = check_landmarks(landmarks)
        size = tuple(int(s) for s in config.output_size)
        if points is None:
            points = self.face_points(image, landmarks)
        else:
            points = np.asarray(points, np.float32).reshape(5, 2)
        converted = convert_channels(image, config.channels)
        if points is None:
            matrix = resize_matrix(image.shape[:2], size)
            out = cv2.resize(converted, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            out = out.reshape(size + (config.channels,))
        else:
            matrix = alignment_matrix(points, np.asarray(config.template), size, config.margin)
            out = warp_image(converted, matrix, size)
        if config.illumination == "isotropic":
            out = isotropic_diffusion_normalise(
                out, length=config.illumination_length * min(size),
                clip_percent=config.illumination_clip_percent)
        if landmarks is None:
            out_landmarks = np.full((68, 2), np.nan, np.float32)
            mask = np.full(size + (1,), 255, np.uint8)
        else:
            out_landmarks = transform_points(landmarks, matrix)
            mask = hull_mask(out_landmarks, size)
        return {"image": out, "landmarks": out_landmarks, "mask": mask,
                "detected": points is not None}
