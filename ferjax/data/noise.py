"""FERAtt's noise-robustness protocol (paper §4.4): the data set itself made noisy.

The paper retrains every model on training images with zero-mean Gaussian noise and tests it on
equally noisy test images, for σ in {0.01, 0.05, 0.07, 0.09, 0.1, 0.2, 0.3} ([0, 1] image
units). `NoisySource` is that noisy copy of a split: record i gets the noise drawn from
(seed, i), so the noisy set is fixed, like a stored one. Adding noise to test images only, with
a model trained on clean data, is the other protocol (test-time noise).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """image uint8 (0..255) or float ([0, 1]) (H, W, C) plus N(0, σ²) in [0, 1] units, clipped
    to [0, 1]; float32 of the same shape."""
    if sigma < 0:
        raise ValueError(f"config.data.noise_sigma must be >= 0, got {sigma}")
    image = np.asarray(image)
    x = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    return np.clip(x + rng.normal(0.0, sigma, x.shape), 0.0, 1.0).astype(np.float32)


class NoisySource:
    """`parent`'s records with `image` replaced by a noisy float32 copy in [0, 1].

    Sources that render per epoch (FERAtt's composites) stay per-epoch: epoch_item(i, epoch)
    noises the epoch's render with the same (seed, i) draw.
    """

    def __init__(self, parent: Any, sigma: float, seed: int):
        if sigma < 0:
            raise ValueError(f"config.data.noise_sigma must be >= 0, got {sigma}")
        self.parent, self.sigma, self.seed = parent, float(sigma), int(seed)
        self.per_epoch = bool(getattr(parent, "per_epoch", False))

    def __len__(self) -> int:
        return len(self.parent)

    def _noisy(self, record, i: int):
        out = dict(record)
        out["image"] = gaussian_noise(record["image"], self.sigma,
                                      np.random.default_rng([self.seed, int(i)]))
        return out

    def __getitem__(self, i: int):
        return self._noisy(self.parent[i], i)

    def epoch_item(self, i: int, epoch: int):
        return self._noisy(self.parent.epoch_item(i, epoch), i)

    def field_values(self, key: str) -> np.ndarray:
        from ferjax.data import sources  # noqa: PLC0415 - avoids a module cycle at import

        return sources.field_values(self.parent, key)


def noisy_sources(data_cfg, train, evaluation, *, seed: int):
    """The pipeline hook: both splits made noisy when config.data.noise_sigma > 0 (train and
    eval draw from different seeds), else returned unchanged."""
    sigma = float(data_cfg.get("noise_sigma", 0.0) or 0.0) if hasattr(data_cfg, "get") else 0.0
    if sigma == 0.0:
        return train, evaluation
    return (NoisySource(train, sigma, seed=2 * seed + 100),
            NoisySource(evaluation, sigma, seed=2 * seed + 101))
