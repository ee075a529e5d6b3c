"""The input pipeline's hook for class re-sampling of the training set (config.data.class_sampling).

    class_sampling = {
        "imbalance": "",          # "" (off) or a preset of ferjax.data.imbalance ("affectnet")
        "balance": False,         # Jalal et al. 2019 up/down-sampling to a per-class target
        "target": "13000",        # per-class count, or "max" | "median" | "mean" | "min"
        "replicate": "fill",      # "fill" (exact target) | "whole" (the paper's counts)
        "crop_fraction": 0.9,     # replicas' random crop side fraction
    }

Apply it to the global training MapDataset before shuffling and before any per-process split:
the plans depend only on the labels and the seed, so every process builds the same one.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import grain
import numpy as np

from ferjax.data.balance import ResampledMapDataset, balance, read_labels
from ferjax.data.imbalance import imbalanced_plan

_KEYS = ("imbalance", "balance", "target", "replicate", "crop_fraction")


def _target(value: Any) -> int | str:
    text = str(value).strip()
    return int(text) if text.isdigit() else text


def resample_training_classes(dataset: grain.MapDataset, sampling: Mapping[str, Any] | None, *,
                              seed: int, labels: Sequence[int] | None = None,
                              num_classes: int | None = None) -> grain.MapDataset:
    """Imbalance and/or balance `dataset` as `sampling` says; unchanged when both are off.

    Args:
      dataset: MapDataset of training records with a `label` key (labels in the experiment's
        label space; negative = dropped).
      sampling: config.data.class_sampling (see module docstring) or None.
      seed: fixes both plans and the replicas' augmentation.
      labels: (N,) labels of `dataset` when known (else read from the records once).
      num_classes: K of the label space.
    Returns:
      the re-sampled MapDataset (class-major order: shuffle it afterwards).
    """
    sampling = dict(sampling or {})
    unknown = set(sampling) - set(_KEYS)
    if unknown:
        raise ValueError(f"config.data.class_sampling has unknown keys {sorted(unknown)}; "
                         f"known: {list(_KEYS)}")
    if not sampling.get("imbalance") and not sampling.get("balance"):
        return dataset
    labels = read_labels(dataset) if labels is None else np.asarray(labels, np.int64)
    if sampling.get("imbalance"):
        kept = imbalanced_plan(labels, sampling["imbalance"], seed)
        dataset = ResampledMapDataset(dataset, kept, seed=seed)
        labels = labels[kept]  # so the balancer need not read the records again
    if sampling.get("balance"):
        dataset = balance(dataset, _target(sampling.get("target", 13000)), seed=seed + 1,
                          labels=labels, num_classes=num_classes,
                          replicate=sampling.get("replicate", "fill"),
                          crop_fraction=float(sampling.get("crop_fraction", 0.9)))
    return dataset
