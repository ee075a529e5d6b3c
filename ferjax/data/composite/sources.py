"""Source-level use: a fixed synthetic split rendered deterministically per (seed, index), the
unrendered face-only target, and the input pipeline's hook that applies config.data.composite."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ferjax.data.composite.settings import settings_from_config
from ferjax.data.composite.transform import CompositeTransform

TRAIN_RENDERS = ("per_epoch", "fixed")


class CompositeSource:
    """A random-access source of composites of `parent`'s (image, mask) records.

    Index i renders record i mod N with a generator seeded by (seed, i), so every read of i
    gives the same image; `multiplier` > 1 makes a split m times larger, each record on m
    different backgrounds and poses (the paper's enlarged synthetic sets).

    With `per_epoch` (the authors' training protocol: new composites every epoch), the training
    pipeline reads `epoch_item(i, epoch)` instead, seeded by (seed, i, epoch), so each epoch
    sees every face on a new background and pose; plain indexing stays the epoch-0 render.
    """

    def __init__(self, parent, transform: CompositeTransform, seed: int, multiplier: int = 1,
                 per_epoch: bool = False):
        if multiplier < 1:
            raise ValueError(f"composite multiplier must be >= 1, got {multiplier}")
        if len(parent) == 0:
            raise ValueError("composite: the source split is empty")
        self.parent, self.transform = parent, transform
        self.seed, self.multiplier = int(seed), int(multiplier)
        self.per_epoch = bool(per_epoch)

    def __len__(self) -> int:
        return len(self.parent) * self.multiplier

    def _render(self, i: int, rng_seed: list[int]):
        if not 0 <= i < len(self):
            raise IndexError(i)
        rng = np.random.default_rng(rng_seed)
        return self.transform.random_map(self.parent[int(i) % len(self.parent)], rng)

    def __getitem__(self, i: int):
        return self._render(int(i), [self.seed, int(i)])

    def epoch_item(self, i: int, epoch: int):
        """Index i rendered for training epoch `epoch` (a fresh draw per epoch if per_epoch)."""
        if not self.per_epoch:
            return self[i]
        return self._render(int(i), [self.seed, int(i), int(epoch)])

    def field_values(self, key: str) -> np.ndarray:
        from ferjax.data import sources  # noqa: PLC0415 - avoids a module cycle at import

        return np.tile(sources.field_values(self.parent, key), self.multiplier)


class FaceTargetSource:
    """`parent`'s records plus "face" = image ⊗ (mask > 127), the face on black, unrendered."""

    def __init__(self, parent):
        self.parent = parent

    def __len__(self) -> int:
        return len(self.parent)

    def __getitem__(self, i: int):
        record = dict(self.parent[i])
        if "mask" not in record:
            raise KeyError(f"the face-only target needs record key 'mask' (keys present: "
                           f"{sorted(record)})")
        mask = np.asarray(record["mask"])
        mask = mask if mask.ndim == 3 else mask[..., None]
        record["face"] = np.asarray(record["image"]) * (mask > 127).astype(np.uint8)
        return record

    def field_values(self, key: str) -> np.ndarray:
        from ferjax.data import sources  # noqa: PLC0415 - avoids a module cycle at import

        return sources.field_values(self.parent, key)


def composite_sources(data_cfg: Mapping[str, Any], train, evaluation, *, seed: int):
    """The pipeline hook: wraps the train/eval sources in CompositeSource when
    config.data.composite.enabled, else returns them unchanged.

    Disabled with "face_from_mask": True, records pass unchanged but gain the face-only target
    image ⊗ mask (FaceTargetSource), for datasets used as they are.
    config.data.composite = {"enabled": bool, "backgrounds": "" (procedural) or an image
    folder, "train_multiplier": int, "eval_multiplier": int, "eval_harder": bool,
    "train_renders": "per_epoch" (default: new training composites every epoch, as the
    authors' code) or "fixed" (each training index always renders the same composite),
    "settings": {CompositeSettings field: value}}. Evaluation composites are always fixed.
    Train and eval use different seeds so the two splits never share a background draw.
    """
    cfg = data_cfg.get("composite") if hasattr(data_cfg, "get") else None
    if not cfg:
        return train, evaluation
    if not cfg.get("enabled", False):
        if cfg.get("face_from_mask", False):
            return FaceTargetSource(train), FaceTargetSource(evaluation)
        return train, evaluation
    backgrounds = cfg.get("backgrounds") or None
    train_t = CompositeTransform(settings_from_config(cfg, evaluation=False), backgrounds)
    eval_t = CompositeTransform(settings_from_config(cfg, evaluation=True), backgrounds)
    train_renders = cfg.get("train_renders", "per_epoch")
    if train_renders not in TRAIN_RENDERS:
        raise ValueError(f"config.data.composite.train_renders={train_renders!r}; expected one "
                         f"of {TRAIN_RENDERS}")
    return (CompositeSource(train, train_t, seed=2 * seed,
                            multiplier=int(cfg.get("train_multiplier", 1)),
                            per_epoch=train_renders == "per_epoch"),
            CompositeSource(evaluation, eval_t, seed=2 * seed + 1,
                            multiplier=int(cfg.get("eval_multiplier", 1))))
