"""Similarity alignment of faces to a canonical 5-point template.

Coordinates are (x, y) pixels with pixel centres at integers (the OpenCV convention, also the
one of the landmarks in dataset records). Transforms are 2x3 float64 matrices mapping source
(input image) points to destination (output image) points.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

from ferjax import ibug68

# The widely used 5-point template of a tight 112x112 face crop (InsightFace/ArcFace), divided by
# 112: image-left eye, image-right eye, nose tip, image-left and image-right mouth corners — the
# order MTCNN returns. Chosen because it is the de-facto standard for 5-point alignment; the
# papers do not give theirs.
FIVE_POINT_TEMPLATE = (
    (38.2946 / 112, 51.6963 / 112),
    (73.5318 / 112, 51.5014 / 112),
    (56.0252 / 112, 71.7366 / 112),
    (41.5493 / 112, 92.3655 / 112),
    (70.7299 / 112, 92.2041 / 112),
)

# iBUG 300-W 68-point indices (0-based) of the nose tip and mouth corners.
_IBUG_NOSE_TIP = 30
_IBUG_MOUTH_LEFT = 48
_IBUG_MOUTH_RIGHT = 54


def five_points_from_68(landmarks: np.ndarray) -> np.ndarray:
    """iBUG 68 points (68, 2) -> (5, 2) in MTCNN order: eye centres (mean of each eye's 6
    contour points), nose tip, mouth corners."""
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.shape != (68, 2):
        raise ValueError(f"landmarks must have shape (68, 2), got {landmarks.shape}")
    return np.stack([
        landmarks[ibug68.RIGHT_EYE].mean(axis=0),
        landmarks[ibug68.LEFT_EYE].mean(axis=0),
        landmarks[_IBUG_NOSE_TIP],
        landmarks[_IBUG_MOUTH_LEFT],
        landmarks[_IBUG_MOUTH_RIGHT],
    ])


def template_in_output(template: np.ndarray, output_size: tuple[int, int],
                       margin: float) -> np.ndarray:
    """Place a template given in unit-square coordinates (K, 2) into an output image.

    The unit square (the tight face crop) becomes a centred square of side
    min(H, W) / (1 + 2 * margin) pixels, so `margin` is the extra context on each side as a
    fraction of the face square; a non-square output gets the remaining room on its longer axis.
    Returns (K, 2) pixel coordinates.
    """
    height, width = output_size
    side = min(height, width) / (1.0 + 2.0 * margin)
    # Unit-square coordinate u spans pixel edges [0, side]; pixel centres sit at edge - 0.5.
    offset = np.array([(width - side) / 2.0, (height - side) / 2.0])
    return np.asarray(template, np.float64) * side + offset - 0.5


def estimate_similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; Umeyama) mapping source
    points (K, 2) onto target points (K, 2), K >= 2. Returns the 2x3 matrix."""
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 2:
        raise ValueError(f"similarity needs two (K, 2) point sets with K >= 2, got "
                         f"{source.shape} and {target.shape}")
    if not (np.isfinite(source).all() and np.isfinite(target).all()):
        raise ValueError("similarity points contain NaN or infinity")
    transform = SimilarityTransform.from_estimate(source, target)
    if not transform:
        raise ValueError(f"similarity estimation failed (degenerate points): {source.tolist()}")
    return transform.params[:2].copy()


def resize_matrix(input_size: tuple[int, int], output_size: tuple[int, int]) -> np.ndarray:
    """2x3 matrix of a plain resize of a whole (H, W) image to (H', W') (pixel-centre aligned,
    as cv2.resize)."""
    (h, w), (oh, ow) = input_size, output_size
    sx, sy = ow / w, oh / h
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 matrix to points (K, 2); NaN points stay NaN. Returns float32 (K, 2)."""
    points = np.asarray(points, np.float64)
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def warp_image(image: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """Warp image (H, W, C) by a 2x3 matrix into (H', W', C), bilinear, black outside.

    When the warp shrinks the image by more than 2x, the image is first reduced to the warp's
    scale with area interpolation (cv2.warpAffine does not filter, so a large face would alias
    otherwise) and the remaining near-1:1 rotation is done bilinearly.
    """
    channels = image.shape[2]
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 0.5:
        h, w = image.shape[:2]
        small = (max(1, round(h * scale)), max(1, round(w * scale)))
        pre = resize_matrix((h, w), small)
        image = cv2.resize(image, (small[1], small[0]), interpolation=cv2.INTER_AREA)
        if image.ndim == 2:
            image = image[..., None]
        matrix = compose(matrix, invert(pre))
    out = cv2.warpAffine(image, matrix, (output_size[1], output_size[0]),
                         flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out.reshape(output_size[0], output_size[1], channels)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 matrix of `outer` after `inner`."""
    full = lambda m: np.vstack([m, [0.0, 0.0, 1.0]])  # noqa: E731
    return (full(outer) @ full(inner))[:2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of an invertible 2x3 affine matrix."""
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def alignment_matrix(points: np.ndarray, template: np.ndarray, output_size: tuple[int, int],
                     margin: float) -> np.ndarray:
    """2x3 similarity taking 5 face points (5, 2) of an image onto the template (5, 2, unit
    square) placed in an (H, W) output with the given margin."""
    return estimate_similarity(points, template_in_output(template, output_size, margin))
