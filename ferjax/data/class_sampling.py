"""The input pipeline's hook for class re-sampling of the training set (config.data.class_sampling).

    class_sampling = {
        "imbalance": "",          # "" (off) or a preset of ferjax.data.imbalance ("affectnet")
        "balance": False,         # Jalal et al. 2019 up/down-sampling to a per-class target
        "target": "13000",        # per-class count, or "max" | "median" | "mean" | "min"
        "replicate": "fill",      # "fill" (exact target) | "whole" (the paper's counts)
        "crop_fraction": 0.9,     # replicas' random crop side fraction
        "class_cycle": False,     # FERAtt's code: element i is a random example of class i mod C
    }

Apply it to the global training source before shuffling and before any per-process split: the
plans depend only on the labels and the seed, so every process builds the same one. The
imbalance frequencies are in the canonical 8-class order and act on the records' canonical
labels; balancing acts on the experiment's label space (after the label map).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ferjax.data.balance import ResampledMapDataset, balance, read_labels
from ferjax.data.imbalance import imbalanced_plan, resolve_frequencies

KEYS = ("imbalance", "balance", "target", "replicate", "crop_fraction", "class_cycle")


class ClassCycleSource:
    """FERAtt's class-balanced sampler: element i is a random example of class i mod C.

    Same length as `parent`; the example is drawn from (seed, i, epoch), so each epoch draws
    anew (as the authors' loader) while any read is reproducible. Classes absent from the
    parent are skipped (C counts the present ones). Sources that render per epoch are read
    with that epoch.
    """

    def __init__(self, parent: Any, labels: np.ndarray, seed: int):
        labels = np.asarray(labels, np.int64)
        present = np.unique(labels[labels >= 0])
        if len(present) == 0:
            raise ValueError("config.data.class_sampling.class_cycle: no labelled examples")
        self.parent, self.seed = parent, int(seed)
        self.members = [np.flatnonzero(labels == c) for c in present]
        self.per_epoch = True

    def __len__(self) -> int:
        return len(self.parent)

    def _index(self, i: int, epoch: int) -> int:
        members = self.members[int(i) % len(self.members)]
        rng = np.random.default_rng([self.seed, int(i), int(epoch)])
        return int(members[rng.integers(len(members))])

    def epoch_item(self, i: int, epoch: int):
        j = self._index(i, epoch)
        if getattr(self.parent, "per_epoch", False):
            return self.parent.epoch_item(j, epoch)
        return self.parent[j]

    def __getitem__(self, i: int):
        return self.epoch_item(i, 0)


def _target(value: Any) -> int | str:
    text = str(value).strip()
    return int(text) if text.isdigit() else text


def resample_training_classes(source: Any, sampling: Mapping[str, Any] | None, *, seed: int,
                              labels: Sequence[int] | None = None,
                              label_table: Sequence[int] | None = None) -> Any:
    """Imbalance and/or balance a training source as `sampling` says; `source` itself when off.

    Args:
      source: MapDataset or random-access source of records with a canonical `label`.
      sampling: config.data.class_sampling (see module docstring) or None.
      seed: fixes both plans and the replicas' augmentation.
      labels: (N,) canonical labels of `source` when known (else its `field_values("label")`,
        else read from the records once).
      label_table: canonical id -> experiment class id (-1 = dropped); identity when None.
    Returns:
      a ResampledMapDataset (class-major order: shuffle it afterwards) or `source`.
    """
    sampling = dict(sampling.items()) if sampling else {}
    unknown = set(sampling) - set(KEYS)
    if unknown:
        raise ValueError(f"config.data.class_sampling has unknown keys {sorted(unknown)}; "
                         f"known: {list(KEYS)}")
    if not any(sampling.get(k) for k in ("imbalance", "balance", "class_cycle")):
        return source
    if labels is None:
        labels = (source.field_values("label") if hasattr(source, "field_values")
                  else read_labels(source))
    labels = np.asarray(labels, np.int64)
    table = (np.arange(max(8, labels.max() + 1)) if label_table is None
             else np.asarray(label_table, np.int64))
    if sampling.get("imbalance"):
        freq = resolve_frequencies(sampling["imbalance"]).copy()
        if len(freq) == len(table):
            freq[table < 0] = 0.0  # classes the label map drops are not in the data
        kept = imbalanced_plan(labels, freq, seed)
        source = ResampledMapDataset(source, kept, seed=seed)
        labels = labels[kept]  # so the balancer need not read the records again
    if sampling.get("balance"):
        mapped = table[labels]
        source = balance(source, _target(sampling.get("target", 13000)), seed=seed + 1,
                         labels=mapped, num_classes=int(table.max()) + 1,
                         replicate=sampling.get("replicate", "fill"),
                         crop_fraction=float(sampling.get("crop_fraction", 0.9)))
        labels = None if sampling.get("class_cycle") else labels
    if sampling.get("class_cycle"):
        if labels is None:  # after balancing: read the balanced source's labels
            labels = np.asarray(source.field_values("label") if hasattr(source, "field_values")
                                else read_labels(source), np.int64)
        source = ClassCycleSource(source, table[labels], seed=seed + 2)
    return source
