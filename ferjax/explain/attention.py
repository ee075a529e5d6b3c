"""Spatial attention maps: projection to input space, per-emotion means, AU-region scoring.

On FERSynth every face carries the regions its action units changed (`au_regions`), so an
attention map can be scored: the fraction of its mass inside those regions. No real dataset
allows this; the papers could only show the maps.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import jax
import numpy as np


def upsample_map(weights: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resizes weight maps (B, h, w) to (B, H, W), renormalised to sum to 1.

    Each cell of B summarises a block of the input; bilinear upsampling spreads its mass over
    that block smoothly instead of in hard squares.
    """
    weights = np.asarray(weights, np.float32)
    up = np.asarray(jax.image.resize(weights, (weights.shape[0], *size), "linear"))
    up = np.maximum(up, 0.0)
    return up / np.maximum(up.sum(axis=(1, 2), keepdims=True), 1e-12)


def mass_inside(maps: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Fraction of each map's mass inside its boolean region: (B, H, W) x (B, H, W) -> (B,)."""
    maps = np.asarray(maps, np.float64)
    return (maps * regions).sum(axis=(1, 2)) / np.maximum(maps.sum(axis=(1, 2)), 1e-12)


class PerClassMeans:
    """Running per-class means of images, input-space attention maps and their product.

    means() gives both reductions of Sun et al.'s Fig. 5 bottom row: "product", the mean over
    images of image × map, and "product_of_means", mean image × mean map (what the paper shows).
    They differ where a class's faces and maps co-vary.
    """

    def __init__(self, num_classes: int, size: tuple[int, int]):
        self.count = np.zeros(num_classes, np.int64)
        self.image = np.zeros((num_classes, *size), np.float64)
        self.attention = np.zeros((num_classes, *size), np.float64)
        self.product = np.zeros((num_classes, *size), np.float64)

    def add(self, images: np.ndarray, maps: np.ndarray, labels: np.ndarray) -> None:
        """images (B, H, W) in display units, maps (B, H, W), labels (B,)."""
        for img, m, y in zip(images, maps, labels):
            self.count[y] += 1
            self.image[y] += img
            self.attention[y] += m
            self.product[y] += img * m

    def means(self) -> dict[str, np.ndarray]:
        n = np.maximum(self.count, 1)[:, None, None]
        image, attention = self.image / n, self.attention / n
        return {"image": image, "attention": attention, "product": self.product / n,
                "product_of_means": image * attention, "count": self.count}


def au_union_regions(records: Iterable[dict], image_size: tuple[int, int],
                     crop: Callable[[np.ndarray], np.ndarray], threshold: float = 0.0):
    """Boolean (H, W) union of the regions of each record's active AUs, cropped like the input."""
    from ferjax import synth  # only FERSynth records carry AU regions

    masks = []
    for record in records:
        active = np.flatnonzero(np.asarray(record["au"]) > threshold)
        full = synth.au_region_mask(np.asarray(record["au_regions"]), active,
                                    np.asarray(record["image"]).shape[:2])
        masks.append(crop(full))
    return np.stack(masks)


def analyse(apply_fn: Callable, variables: Any, source, transform, class_names,
            batch_size: int = 64, max_examples: int = 2000, denormalise=None) -> dict:
    """Per-emotion attention means and, where records carry AU regions, the AU-mass score.

    Args:
      apply_fn: model.apply; its outputs must include "attention" (B, h, w).
      source: records (eval split); transform: the eval transform (crop + normalise).
      denormalise: maps a normalised (B, H, W, C) batch back to display units.
    Returns:
      {"means": PerClassMeans.means(), "au_mass": per-class mean fraction or None,
       "au_area": per-class mean area fraction of the AU regions (a uniform map's score)}.
    """
    forward = jax.jit(lambda x: apply_fn(variables, x, train=False)["attention"])
    n = min(len(source), max_examples)
    k = len(class_names)
    accumulator = None
    au_mass = [[] for _ in range(k)]
    au_area = [[] for _ in range(k)]
    for start in range(0, n, batch_size):
        records = [source[i] for i in range(start, min(n, start + batch_size))]
        batch = [transform.map(r) for r in records]
        images = np.stack([b["image"] for b in batch])
        labels = np.array([b["label"] for b in batch])
        size = images.shape[1:3]
        maps = upsample_map(np.asarray(forward(images)), size)
        shown = denormalise(images) if denormalise else images
        if accumulator is None:
            accumulator = PerClassMeans(k, size)
        accumulator.add(shown.mean(axis=-1), maps, labels)
        if all("au_regions" in r for r in records):
            full = np.asarray(records[0]["image"]).shape[:2]
            top, left = (full[0] - size[0]) // 2, (full[1] - size[1]) // 2
            regions = au_union_regions(
                records, size, lambda m: m[top:top + size[0], left:left + size[1]])
            for y, frac, region in zip(labels, mass_inside(maps, regions), regions):
                if region.any():  # a neutral face has no active AU: nothing to score
                    au_mass[y].append(float(frac))
                    au_area[y].append(float(region.mean()))
    has_au = any(au_mass)
    per_class = lambda lists: {c: (float(np.mean(v)) if v else None)  # noqa: E731
                               for c, v in zip(class_names, lists)}
    return {"means": accumulator.means(),
            "au_mass": per_class(au_mass) if has_au else None,
            "au_area": per_class(au_area) if has_au else None}
