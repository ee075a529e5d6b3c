"""Attention reconstruction loss: zero for a perfect reconstruction, MSE and tanh values."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.losses import attention
from ferjax.losses import get as get_loss


def _face(shape=(2, 4, 4, 3), seed=0):
    return jnp.asarray(np.random.default_rng(seed).uniform(0, 1, shape), jnp.float32)


@pytest.mark.parametrize("kind", ["mse", "tanh"])
def test_zero_for_perfect_reconstruction(kind):
    face = _face()
    loss = attention.attention_reconstruction({"attention_image": face}, {"face": face}, kind=kind)
    assert float(loss) == 0.0


def test_mse_and_tanh_values():
    face = jnp.zeros((1, 2, 2, 3))
    prediction = face.at[0, 0, 0, 0].set(0.5)  # one of 12 values off by 0.5
    outputs, batch = {"attention_image": prediction}, {"face": face}
    assert float(attention.attention_reconstruction(outputs, batch)) == pytest.approx(0.25 / 12)
    tanh = attention.attention_reconstruction(outputs, batch, kind="tanh")
    assert float(tanh) == pytest.approx(5 * math.tanh(1.5) / 12, rel=1e-6)


def test_grey_target_is_compared_with_every_channel():
    grey = _face((2, 4, 4, 1))
    prediction = jnp.repeat(grey, 3, axis=-1)
    assert float(attention.attention_reconstruction({"attention_image": prediction},
                                                    {"face": grey})) == 0.0


def test_padding_examples_are_ignored():
    face = _face()
    prediction = face.at[1].add(3.0)  # example 1 is padding
    batch = {"face": face, "weight": jnp.asarray([1.0, 0.0])}
    assert float(attention.attention_reconstruction({"attention_image": prediction}, batch)) == 0.0


def test_bad_inputs_are_named():
    face = _face()
    with pytest.raises(ValueError, match="attention_image"):
        attention.attention_reconstruction({"logits": face}, {"face": face})
    with pytest.raises(ValueError, match="face"):
        attention.attention_reconstruction({"attention_image": face}, {"image": face})
    with pytest.raises(ValueError, match="shape"):
        attention.attention_reconstruction({"attention_image": face}, {"face": face[:, :2]})
    with pytest.raises(ValueError, match="kind"):
        attention.attention_reconstruction({"attention_image": face}, {"face": face}, kind="l1")
    assert get_loss("attention_reconstruction") is attention.attention_reconstruction


@pytest.mark.parametrize("kind", ["mse", "tanh"])
def test_weighted_mean_of_per_example_losses(kind):
    # Two examples with different errors and weights 3 : 1: the loss is their weighted mean.
    face = jnp.zeros((2, 2, 2, 3))
    prediction = face.at[0, 0, 0, 0].set(0.5).at[1].set(0.2)
    per_example = ([0.25 / 12, 0.04] if kind == "mse"
                   else [5 * math.tanh(1.5) / 12, 5 * math.tanh(0.6)])
    batch = {"face": face, "weight": jnp.asarray([3.0, 1.0])}
    loss = attention.attention_reconstruction({"attention_image": prediction}, batch, kind=kind)
    assert float(loss) == pytest.approx((3 * per_example[0] + per_example[1]) / 4, rel=1e-5)


def test_low_precision_inputs_are_compared_in_float32():
    # bfloat16 keeps 8 bits of mantissa: squaring and averaging in it would lose the 1e-3 part.
    prediction = jnp.full((1, 4, 4, 3), 1.0 + 2 ** -7, jnp.bfloat16)
    face = jnp.ones((1, 4, 4, 1), jnp.bfloat16)
    loss = attention.attention_reconstruction({"attention_image": prediction}, {"face": face})
    assert loss.dtype == jnp.float32
    assert float(loss) == pytest.approx(2 ** -14, rel=1e-6)
