"""Grad-CAM vs EMFACS action-unit landmarks (EmotionalDAN §5.2, Tables 4 and 5).

Pipeline: keep frontal faces (paper Eq. 5), correctly classified, not neutral; compute each
image's landmark activations (its Grad-CAM summed in a window centred on each of ITS OWN
landmarks); average them per emotion; take the top-k landmarks, k = |AU set of the emotion|;
score = |AU set ∩ top-k| / |AU set|. The authors' code used the first validation image's
landmarks for every image and a window anchored at its top-left corner; both are fixed here.

Landmark indices are 0-based iBUG 300-W.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ferjax.labels import class_index


def _span(first: int, last: int) -> tuple[int, ...]:
    return tuple(range(first, last + 1))


_LIP_CORNERS = (48, 49, 53, 54, 55, 59, 60, 64)
_UPPER_LIDS = (37, 38, 39, 42, 43, 44)
_JAW_DROP = _span(55, 67)
_INNER_BROWS = (20, 21, 22, 23)
_OUTER_BROWS = (17, 18, 19, 24, 25, 26)

# Paper Table 4: EMFACS AUs of each emotion and the landmarks each AU moves.
PAPER_AU_LANDMARKS: Mapping[str, Mapping[str, tuple[int, ...]]] = {
    "happy": {"AU6": (1, 2, 14, 15), "AU12": _LIP_CORNERS},
    "sad": {"AU1": _span(17, 21), "AU4": _span(22, 26), "AU15": _LIP_CORNERS},
    "surprise": {"AU1": _INNER_BROWS, "AU2": _OUTER_BROWS, "AU5": _UPPER_LIDS,
                 "AU26": _JAW_DROP},
    "fear": {"AU1": _INNER_BROWS, "AU2": _OUTER_BROWS, "AU4": _span(17, 26),
             "AU5+7": _UPPER_LIDS, "AU20": _LIP_CORNERS, "AU26": _JAW_DROP},
    "disgust": {"AU9": _span(27, 35), "AU15": _LIP_CORNERS,
                "AU16": (48, 54, 55, 56, 57, 58, 59, 60, 64)},
    "anger": {"AU4": _span(17, 26), "AU5+7": _UPPER_LIDS, "AU23": _span(48, 67)},
}

# The sets the authors' notebooks scored against; the denominators of paper Table 5 match these
# (e.g. happy 0.375 = 6/16), not the Table 4 unions.
CODE_AU_LANDMARKS: Mapping[str, tuple[int, ...]] = {
    "happy": (1, 2, 14, 15) + _span(48, 59),
    "sad": _span(17, 26) + _span(48, 59),
    "surprise": _span(17, 26) + _span(55, 67),
    "fear": _span(17, 26) + _span(48, 67),
    "anger": _span(17, 26) + _span(36, 59),
    "disgust": _span(27, 35) + _span(55, 59),
}

PAPER_TABLE5 = {
    "conv4a": {"happy": 0.375, "sad": 0.455, "surprise": 0.522, "fear": 0.633,
               "disgust": 0.214, "anger": 0.647, "average": 0.474},
    "conv4b": {"happy": 0.312, "sad": 0.409, "surprise": 0.478, "fear": 0.6,
               "disgust": 0.429, "anger": 0.559, "average": 0.464},
}
EMOTIONS = ("happy", "sad", "surprise", "fear", "disgust", "anger")


def au_landmark_sets(source: str = "paper") -> Mapping[str, frozenset[int]]:
    """Emotion -> AU landmark set: "paper" (union of Table 4 rows) or "code" (notebooks)."""
    if source == "paper":
        return {e: frozenset(i for ids in aus.values() for i in ids)
                for e, aus in PAPER_AU_LANDMARKS.items()}
    if source == "code":
        return {e: frozenset(ids) for e, ids in CODE_AU_LANDMARKS.items()}
    raise ValueError(f"AU landmark set source {source!r}; choose 'paper' or 'code'")


def frontal_mask(landmarks: np.ndarray, epsilon: float) -> np.ndarray:
    """Paper Eq. 5: both outer eye corners (36, 45) within `epsilon` pixels of their means.

    Args:
      landmarks: (N, 68, 2) pixels (each image's own landmarks).
    Returns:
      (N,) bool.
    """
    landmarks = np.asarray(landmarks, np.float64)
    corners = landmarks[:, [36, 45]]
    distance = np.linalg.norm(corners - corners.mean(0, keepdims=True), axis=-1)
    return np.all(distance < epsilon, axis=1)


def landmark_activations(cams: np.ndarray, landmarks: np.ndarray, window: int = 3) -> np.ndarray:
    """Sum of each CAM in a window × window box centred on each landmark (its rounded pixel).

    Args:
      cams: (N, H, W) maps in the landmarks' pixel frame.
      landmarks: (N, 68, 2) (x, y) pixels.
      window: odd box side, pixels; the box is clipped at the image border.
    Returns:
      (N, 68).
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window={window}; must be a positive odd number of pixels")
    cams = np.asarray(cams, np.float64)
    half = window // 2
    padded = np.pad(cams, ((0, 0), (half, half), (half, half)))
    # Summed-area table: any box sum in four look-ups.
    table = np.pad(padded.cumsum(1).cumsum(2), ((0, 0), (1, 0), (1, 0)))
    height, width = cams.shape[1:]
    cols = np.clip(np.rint(landmarks[..., 0]).astype(int), 0, width - 1)
    rows = np.clip(np.rint(landmarks[..., 1]).astype(int), 0, height - 1)
    n = np.arange(cams.shape[0])[:, None]
    return (table[n, rows + window, cols + window] - table[n, rows, cols + window]
            - table[n, rows + window, cols] + table[n, rows, cols])


def selection_mask(labels: np.ndarray, predictions: np.ndarray, landmarks: np.ndarray,
                   epsilon: float, neutral_label: int = class_index("neutral")) -> np.ndarray:
    """Images the analysis keeps: frontal (Eq. 5), correctly classified, not neutral; (N,)."""
    labels = np.asarray(labels)
    return (frontal_mask(landmarks, epsilon) & (labels == np.asarray(predictions))
            & (labels != neutral_label))


def mean_per_class(values: np.ndarray, labels: np.ndarray, keep: np.ndarray,
                   class_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Mean of values[i] over kept images of each class that has any; {name: mean}."""
    labels = np.asarray(labels)
    means = {}
    for index, name in enumerate(class_names):
        chosen = keep & (labels == index)
        if np.any(chosen):
            means[name] = np.asarray(values)[chosen].mean(0)
    return means


def top_k_overlap(activations: np.ndarray, au_set: frozenset[int]) -> float:
    """|au_set ∩ top-k landmarks of `activations` (68,)| / |au_set|, k = |au_set|."""
    k = len(au_set)
    top = np.argsort(-np.asarray(activations), kind="stable")[:k]
    return len(au_set.intersection(top.tolist())) / k


def au_overlap_table(class_activations: Mapping[str, np.ndarray],
                     source: str = "paper") -> dict[str, float]:
    """Table 5 row: {emotion: overlap score, "average": mean over the emotions scored}.

    Args:
      class_activations: {emotion name: mean landmark activation (68,)}; emotions without an
        AU set (neutral, contempt) or without images are skipped.
    """
    sets = au_landmark_sets(source)
    row = {e: top_k_overlap(class_activations[e], sets[e]) for e in EMOTIONS
           if e in class_activations}
    if not row:
        raise ValueError("no emotion with an AU landmark set has kept images; nothing to score")
    row["average"] = float(np.mean(list(row.values())))
    return row


def cam_mass_in_regions(cams: np.ndarray, region_masks: np.ndarray) -> np.ndarray:
    """Fraction of each CAM's total mass inside a boolean region (N, H, W) -> (N,).

    Images whose CAM is all zero get NaN (no mass to attribute).
    """
    cams = np.asarray(cams, np.float64)
    total = cams.sum((1, 2))
    inside = (cams * np.asarray(region_masks, bool)).sum((1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)


def au_region_masks(au_regions: np.ndarray, au_active: np.ndarray,
                    image_shape: tuple[int, int], cell: int = 4) -> np.ndarray:
    """FERSynth AU regions of the AUs active in each face, as pixel masks.

    Args:
      au_regions: (N, ceil(H/cell), ceil(W/cell)) uint16, bit k set where AU k changed the cell.
      au_active: (N, n_au) AU intensities; AUs with intensity > 0 count.
      image_shape: (H, W) of the CAMs.
    Returns:
      (N, H, W) bool.
    """
    au_active = np.asarray(au_active) > 0
    bits = (au_active * (1 << np.arange(au_active.shape[1]))).sum(1).astype(np.uint32)
    cells = (np.asarray(au_regions).astype(np.uint32) & bits[:, None, None]) != 0
    pixels = cells.repeat(cell, axis=1).repeat(cell, axis=2)
    return pixels[:, :image_shape[0], :image_shape[1]]
