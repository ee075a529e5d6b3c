"""FERAtt's noise-robustness protocol: noisy copies of the training and test sets."""

import numpy as np
import pytest

from ferjax.data import noise, sources
from ferjax.data.composite.sources import CompositeSource


def _records(n=4):
    rng = np.random.default_rng(0)
    return [{"image": rng.integers(0, 256, (6, 5, 1), dtype=np.uint8), "label": np.int64(i)}
            for i in range(n)]


def test_noisy_source_adds_fixed_gaussian_noise_per_index():
    records = _records()
    noisy = noise.NoisySource(sources.ListSource(records), sigma=0.1, seed=3)
    out = noisy[2]["image"]
    expected = np.clip(records[2]["image"] / 255.0
                       + np.random.default_rng([3, 2]).normal(0.0, 0.1, (6, 5, 1)), 0, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)
    assert out.dtype == np.float32 and noisy[2]["label"] == 2
    np.testing.assert_array_equal(noisy[2]["image"], out)  # the same noisy set on every read
    residual = noisy[0]["image"] - records[0]["image"] / 255.0
    assert 0.05 < residual.std() < 0.15
    with pytest.raises(ValueError, match="noise_sigma"):
        noise.NoisySource(records, sigma=-0.1, seed=0)


def test_hook_noises_both_splits_with_different_draws_and_keeps_per_epoch_renders():
    records = sources.ListSource(_records())
    train, evaluation = noise.noisy_sources({"noise_sigma": 0.05}, records, records, seed=0)
    assert not np.allclose(train[1]["image"], evaluation[1]["image"])
    same_train, same_eval = noise.noisy_sources({"noise_sigma": 0.0}, records, records, seed=0)
    assert same_train is records and same_eval is records

    class _Shift:
        def random_map(self, record, rng):
            shift = np.uint8(rng.integers(0, 100))
            return {"image": record["image"] // 2 + shift, "label": record["label"]}

    per_epoch = CompositeSource(records, _Shift(), seed=1, per_epoch=True)
    noisy = noise.NoisySource(per_epoch, sigma=0.05, seed=2)
    assert noisy.per_epoch
    assert not np.allclose(noisy.epoch_item(0, 0)["image"], noisy.epoch_item(0, 1)["image"])


def test_feratt_config_sets_the_noise_level():
    from ferjax.configs import feratt
    assert feratt.get_config("noise=0.2").data.noise_sigma == 0.2
    assert feratt.get_config(None).data.noise_sigma == 0.0
