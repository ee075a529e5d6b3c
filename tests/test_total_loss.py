"""Loss composition: the registry and the weighted sum of configured terms."""

import math

import jax.numpy as jnp
import pytest

from ferjax import losses
from ferjax.losses import classification


def test_registry_lists_and_resolves_every_term():
    assert losses.names() == ["attention_reconstruction", "emotion_ce", "gaussian_manifold",
                              "landmark_nme"]
    assert all(callable(losses.get(name)) for name in losses.names())
    with pytest.raises(ValueError, match="config.losses.focal is not a loss term"):
        losses.get("focal")


def test_total_is_the_weighted_sum_and_weight_defaults_to_one():
    outputs = {"logits": jnp.asarray([[1.0, -1.0], [0.0, 2.0]]),
               "attention_image": jnp.full((2, 2, 2, 3), 0.5)}
    batch = {"label": jnp.asarray([0, 0]), "face": jnp.zeros((2, 2, 2, 1))}
    ce = float(classification.emotion_cross_entropy(outputs, batch))
    total, parts = losses.total_loss(outputs, batch, {
        "emotion_ce": {"weight": 0.25}, "attention_reconstruction": {"kind": "tanh"}})
    tanh = 5 * math.tanh(3 * 0.5)  # the options reach the term: not the default MSE's 0.25
    assert float(parts["emotion_ce"]) == pytest.approx(ce, rel=1e-6)
    assert float(parts["attention_reconstruction"]) == pytest.approx(tanh, rel=1e-6)
    assert float(total) == pytest.approx(0.25 * ce + tanh, rel=1e-6)
    with pytest.raises(ValueError, match="config.losses is empty"):
        losses.total_loss(outputs, batch, {})
