"""Greedy non-maximum suppression over axis-aligned boxes.

Written here rather than taken from a library because the MTCNN cascade needs two overlap
measures: intersection over union (P-Net, R-Net) and intersection over the smaller box (O-Net).
`cv2.dnn.NMSBoxes` offers only the first, and the JAX/TF ops that offer either pull in a
framework we do not want for a preprocessing step.
"""

from __future__ import annotations

import numpy as np

OVERLAP_METHODS = ("union", "min")


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Areas of boxes (N, 4) given as (x1, y1, x2, y2) in pixels; degenerate boxes get 0."""
    widths = np.maximum(boxes[:, 2] - boxes[:, 0], 0.0)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 0.0)
    return widths * heights


def overlap_with(box: np.ndarray, others: np.ndarray, method: str = "union") -> np.ndarray:
    """Overlap of one box (4,) with each of others (M, 4), all (x1, y1, x2, y2).

    method "union": intersection / union; "min": intersection / area of the smaller box.
    Returns (M,) floats in [0, 1]; 0 where the denominator is 0.
    """
    if method not in OVERLAP_METHODS:
        raise ValueError(f"overlap method must be one of {OVERLAP_METHODS}, got {method!r}")
    inter_w = np.maximum(
        np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0.0)
    inter_h = np.maximum(
        np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0.0)
    intersection = inter_w * inter_h
    area = box_areas(box[None])[0]
    areas = box_areas(others)
    if method == "union":
        denominator = area + areas - intersection
    else:
        denominator = np.minimum(area, areas)
    return np.divide(intersection, denominator, out=np.zeros_like(intersection),
                     where=denominator > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float,
        method: str = "union") -> np.ndarray:
    """Greedy NMS: keep the best box, drop those overlapping it by more than threshold, repeat.

    Args:
      boxes: (N, 4) float, (x1, y1, x2, y2) pixels.
      scores: (N,) float.
      threshold: overlap above which a lower-scored box is suppressed.
      method: "union" (IoU) or "min" (intersection over the smaller box).
    Returns:
      int64 indices of the kept boxes, best score first.
    """
    boxes = np.asarray(boxes, np.float64)
    scores = np.asarray(scores, np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != boxes.shape[:1]:
        raise ValueError(f"nms expects boxes (N, 4) and scores (N,), got {boxes.shape} and "
                         f"{scores.shape}")
    # Stable sort so that equal scores keep their input order (deterministic output).
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best = order[0]
        keep.append(best)
        rest = order[1:]
        order = rest[overlap_with(boxes[best], boxes[rest], method) <= threshold]
    return np.asarray(keep, np.int64)
