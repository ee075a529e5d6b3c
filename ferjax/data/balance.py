"""Class balancing (Jalal et al. 2019 §V-B): down-sample large classes, replicate small ones.

The paper draws 13,000 training images per AffectNet class; under-represented classes are
"up-sampled by replicating and augmentation". Its reported counts (fear 12,756 = 2 × 6,378,
disgust 11,409 = 3 × 3,803, contempt 11,250 = 3 × 3,750) show it replicated every image of a
small class a whole number of times, so those classes stay below the target: `replicate="whole"`
reproduces that; the default `replicate="fill"` reaches the target exactly (whole copies, then a
random subset for the remainder).

Everything here is a grain MapDataset: a resampling *plan* (source index, replica number per
element) fixed by the seed, and random access into it. Random access by index is what grain's
iterator state records, so a restored iterator yields exactly the elements it would have.
Replicas (replica number ≥ 1) get a random horizontal flip and random crop drawn from
(seed, index), so they are deterministic too.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import cv2
import grain
import numpy as np

from ferjax import ibug68

REPLICATE_MODES = ("fill", "whole")
# Image-like record fields that move with the image, and how each is resampled.
_SPATIAL_KEYS = (("image", cv2.INTER_LINEAR), ("face", cv2.INTER_LINEAR),
                 ("mask", cv2.INTER_NEAREST), ("au_regions", cv2.INTER_NEAREST))
TARGET_RULES = ("max", "median", "mean", "min")

def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes,) int64 count of each class id among labels ≥ 0 (negatives = dropped)."""
    labels = np.asarray(labels)
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"label {labels.max()} is outside the {num_classes} classes")
    return np.bincount(labels[labels >= 0], minlength=num_classes).astype(np.int64)


def resolve_target(target: int | str, counts: np.ndarray) -> int:
    """A per-class target count: an int (paper: 13,000) or a rule over the class counts."""
    if isinstance(target, str):
        if target not in TARGET_RULES:
            raise ValueError(f"balance target={target!r}: give a count or one of {TARGET_RULES}")
        return max(1, int(getattr(np, target)(counts)))
    if int(target) < 1:
        raise ValueError(f"balance target={target} must be a positive count")
    return int(target)


def balanced_plan(labels: Sequence[int], target: int | str, seed: int, *,
                  num_classes: int | None = None,
                  replicate: str = "fill") -> tuple[np.ndarray, np.ndarray]:
    """Which source examples make up the balanced set.

    Args:
      labels: (N,) class id of each source example; negative ids are left out.
      target: examples per class, or a rule ("max", "median", "mean", "min") over class counts.
      seed: fixes the down-sampling and the remainder draw.
      num_classes: K (default max label + 1); every class must have an example.
      replicate: "fill" (exactly `target` per class) or "whole" (n·⌊target/n⌋, the paper's).
    Returns:
      source_index (M,) int64 into the source, class-major order (shuffle downstream), and
      replica (M,) int32: 0 for an original, k ≥ 1 for its k-th copy.
    """
    if replicate not in REPLICATE_MODES:
        raise ValueError(f"replicate={replicate!r} is not one of {REPLICATE_MODES}")
    labels = np.asarray(labels, np.int64)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    counts = class_counts(labels, num_classes)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"classes {missing} have no examples: cannot balance by replication")
    target = resolve_target(target, counts)
    rng = np.random.default_rng(seed)
    indices, replicas = [], []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        n = len(members)
        if n >= target:
            chosen, copy = rng.choice(members, target, replace=False), np.zeros(target, np.int32)
        else:
            whole = target // n
            chosen = np.tile(members, whole)
            copy = np.repeat(np.arange(whole, dtype=np.int32), n)
            if replicate == "fill" and target > whole * n:
                extra = rng.choice(members, target - whole * n, replace=False)
                chosen = np.concatenate([chosen, extra])
                copy = np.concatenate([copy, np.full(len(extra), whole, np.int32)])
        indices.append(chosen)
        replicas.append(copy)
    return np.concatenate(indices).astype(np.int64), np.concatenate(replicas)


def _axis_map(out_size: int, start: float, extent: float, flip: bool):
    """Affine map input pixel index → output pixel index along one axis (pixel centres)."""
    scale = out_size / extent

    def forward(x):
        y = scale * (x + 0.5 - start) - 0.5
        return (out_size - 1) - y if flip else y

    return forward, scale


def _warp(array: np.ndarray, box: tuple[float, float, float, float], flip: bool,
          interpolation: int) -> np.ndarray:
    """Crops box = (y0, x0, h, w) (in this array's pixels), resizes back, flips left-right."""
    height, width = array.shape[:2]
    y0, x0, h, w = box
    fx, sx = _axis_map(width, x0, w, flip)
    fy, sy = _axis_map(height, y0, h, False)
    matrix = np.array([[-sx if flip else sx, 0.0, fx(0.0)], [0.0, sy, fy(0.0)]], np.float64)
    out = cv2.warpAffine(array, matrix, (width, height), flags=interpolation,
                         borderMode=cv2.BORDER_REFLECT_101)
    return out.reshape(array.shape)


def flip_and_crop(record: Mapping[str, Any], rng: np.random.Generator, *,
                  crop_fraction: float = 0.9, flip_probability: float = 0.5) -> dict[str, Any]:
    """Random horizontal flip and random crop (resized back to the input size) of a record.

    The same geometric change is applied to `image` and FERAtt's `face` target (bilinear),
    `mask` and `au_regions` (nearest), each at its own grid (au_regions is coarser), and to
    `landmarks` (x, y pixel coordinates,
    mirrored point order on a flip, so left-eye points stay the subject's left eye). Other keys
    pass through.

    Args:
      record: dict with `image` (H, W, C) uint8 and optionally the keys above.
      rng: numpy Generator; the draw is fully determined by it.
      crop_fraction: crop side as a fraction of the image side, in (0, 1].
    Returns:
      a new dict with the same keys, shapes and dtypes.
    """
    if not 0.0 < crop_fraction <= 1.0:
        raise ValueError(f"crop_fraction={crop_fraction} must be in (0, 1]")
    height, width = record["image"].shape[:2]
    crop_h, crop_w = crop_fraction * height, crop_fraction * width
    y0 = rng.uniform(0.0, height - crop_h)
    x0 = rng.uniform(0.0, width - crop_w)
    flip = bool(rng.uniform() < flip_probability)
    out = dict(record)
    for key, interpolation in _SPATIAL_KEYS:
        if key in record:
            grid_h, grid_w = record[key].shape[:2]
            ky, kx = grid_h / height, grid_w / width
            out[key] = _warp(record[key], (y0 * ky, x0 * kx, crop_h * ky, crop_w * kx), flip,
                             interpolation)
    if "landmarks" in record:
        points = np.asarray(record["landmarks"], np.float32)
        fx, _ = _axis_map(width, x0, crop_w, flip)
        fy, _ = _axis_map(height, y0, crop_h, False)
        moved = np.stack([fx(points[:, 0]), fy(points[:, 1])], axis=1).astype(np.float32)
        if flip:
            if len(moved) != ibug68.NUM_POINTS:
                raise ValueError(f"landmarks of shape {points.shape}: the flip needs iBUG 68 points")
            moved = moved[ibug68.MIRROR]
        out["landmarks"] = moved
    return out


class ResampledMapDataset(grain.MapDataset):
    """Random access into `parent` through a fixed (source index, replica) plan.

    Element i is parent[source_index[i]]; when replica[i] ≥ 1 and `augment` is given, it is
    augment(record, rng) with rng = numpy Generator seeded by (seed, i), so the element is the
    same whenever, and in whichever process, it is read.
    """

    def __init__(self, parent: Any, source_index: np.ndarray,
                 replica: np.ndarray | None = None, *, seed: int = 0,
                 augment: Callable[[Mapping[str, Any], np.random.Generator], Any] | None = None):
        # parent: a MapDataset or any random-access source (__len__, __getitem__).
        self._records = parent
        if not isinstance(parent, grain.MapDataset):
            parent = grain.MapDataset.source(parent)
        super().__init__(parent)
        self._source_index = np.asarray(source_index, np.int64)
        self._replica = (np.zeros(len(self._source_index), np.int32) if replica is None
                         else np.asarray(replica, np.int32))
        if self._replica.shape != self._source_index.shape:
            raise ValueError("source_index and replica must have the same length")
        if len(self._source_index) and self._source_index.max() >= len(parent):
            raise ValueError(f"plan indexes {self._source_index.max()} in a source of "
                             f"{len(parent)} examples")
        self._seed = int(seed)
        self._augment = augment

    def __len__(self) -> int:
        return len(self._source_index)

    def __str__(self) -> str:
        return f"ResampledMapDataset(len={len(self)}, seed={self._seed})"

    @property
    def records(self) -> Any:
        """The random-access source the plan indexes."""
        return self._records

    @property
    def plan(self) -> tuple[np.ndarray, np.ndarray]:
        """(source_index, replica), each (len,): element i is records[source_index[i]],
        augmented when replica[i] ≥ 1 and the dataset has an augmentation."""
        return self._source_index, self._replica

    @property
    def augments_replicas(self) -> bool:
        return self._augment is not None

    def field_values(self, key: str) -> np.ndarray:
        """(len,) int64 scalar field (label, fold, subject_id) of every element, read cheaply
        from the parent when it offers `field_values` (a replica keeps its original's)."""
        if hasattr(self._records, "field_values"):
            values = np.asarray(self._records.field_values(key), np.int64)
        else:
            values = read_labels(self._records, key)
        return values[self._source_index]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.slice(index)
        position = index % len(self._source_index)
        record = self._parent[int(self._source_index[position])]
        if record is None or self._replica[position] == 0 or self._augment is None:
            return record
        return self._augment(record, np.random.default_rng((self._seed, int(index))))


def read_labels(dataset: Any, key: str = "label") -> np.ndarray:
    """(N,) int64 values of a scalar field of every record of a MapDataset or random-access
    source (reads, and so decodes, the whole source)."""
    return np.array([int(dataset[i][key]) for i in range(len(dataset))], np.int64)


def balance(dataset: Any, target: int | str = 13000, *, seed: int,
            labels: Sequence[int] | None = None, num_classes: int | None = None,
            replicate: str = "fill", crop_fraction: float = 0.9) -> ResampledMapDataset:
    """The class-balanced view of `dataset` (Jalal et al. 2019's up/down-sampling).

    Args:
      dataset: MapDataset or random-access source of records with `label` and `image` keys.
      target: examples per class (paper 13,000) or a rule, see `balanced_plan`.
      seed: fixes the plan and every replica's augmentation.
      labels: the records' labels when known (else read from the records).
      num_classes, replicate: see `balanced_plan`.
      crop_fraction: replicas' random crop size, see `flip_and_crop`.
    Returns:
      a MapDataset of K·target elements ("fill"), class-major: shuffle it downstream.
    """
    labels = read_labels(dataset) if labels is None else np.asarray(labels)
    if len(labels) != len(dataset):
        raise ValueError(f"{len(labels)} labels for a dataset of {len(dataset)} records")
    source_index, replica = balanced_plan(labels, target, seed, num_classes=num_classes,
                                          replicate=replicate)
    augment = lambda record, rng: flip_and_crop(record, rng, crop_fraction=crop_fraction)
    return ResampledMapDataset(dataset, source_index, replica, seed=seed, augment=augment)
