"""The chunked weight-gradient convolution: XLA's values and gradients, chunking, the setting."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from ferjax.models import conv_grad, sun, vgg


def _grads(conv, x, k, **kwargs):
    def loss(x, k):
        y = conv(x, k, **kwargs)
        return jnp.sum(jnp.sin(y))  # a non-linear cotangent, different for every output
    return jax.value_and_grad(loss, argnums=(0, 1))(x, k)


@pytest.mark.parametrize("kwargs, x_shape, k_shape", [
    # nn.Conv's layout, 3×3 SAME, several chunks of 2 examples.
    (dict(window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")),
     (8, 6, 6, 3), (3, 3, 3, 4)),
    # stride 2, explicit padding, a batch (6) with no divisor near the target but 1, 2, 3, 6.
    (dict(window_strides=(2, 2), padding=((1, 1), (0, 1)),
          dimension_numbers=("NHWC", "HWIO", "NHWC")), (6, 7, 5, 2), (3, 3, 2, 5)),
    # depthwise (feature groups), dilated kernel.
    (dict(window_strides=(1, 1), padding="SAME", rhs_dilation=(2, 2), feature_group_count=4,
          dimension_numbers=("NHWC", "HWIO", "NHWC")), (4, 8, 8, 4), (3, 3, 1, 4)),
    # lax's default NCHW/OIHW layout: the batch axis is found from the dimension numbers.
    (dict(window_strides=(1, 1), padding="VALID"), (6, 2, 5, 5), (3, 2, 3, 3)),
])
def test_values_and_gradients_equal_xla_convolution(kwargs, x_shape, k_shape):
    x = jax.random.normal(jax.random.key(0), x_shape)
    k = jax.random.normal(jax.random.key(1), k_shape)
    chunked = conv_grad.chunked_weight_grad_conv(positions=40)
    (value, (dx, dk)) = jax.jit(lambda x, k: _grads(chunked, x, k, **kwargs))(x, k)
    (value0, (dx0, dk0)) = jax.jit(lambda x, k: _grads(lax.conv_general_dilated, x, k, **kwargs))(
        x, k)
    np.testing.assert_array_equal(value, value0)  # the forward pass is XLA's own
    np.testing.assert_array_equal(dx, dx0)        # so is the input gradient
    np.testing.assert_allclose(dk, dk0, rtol=1e-5, atol=1e-5)


def test_weight_gradient_is_a_sum_over_chunks():
    """The batch really is cut: with one example per chunk the gradient is the sum of the
    per-example gradients (hand-made with lax), in that order."""
    x = jax.random.normal(jax.random.key(2), (4, 5, 5, 2))
    k = jax.random.normal(jax.random.key(3), (3, 3, 2, 3))
    args = dict(window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    per_example = [jax.grad(lambda k, i=i: jnp.sum(jnp.sin(
        lax.conv_general_dilated(x[i:i + 1], k, **args))))(k) for i in range(4)]
    expected = ((per_example[0] + per_example[1]) + per_example[2]) + per_example[3]
    chunked = conv_grad.chunked_weight_grad_conv(positions=25)  # 25 = one 5×5 example
    dk = jax.jit(jax.grad(lambda k: jnp.sum(jnp.sin(chunked(x, k, **args)))))(k)
    np.testing.assert_allclose(dk, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("batch, per_example, positions, expected", [
    (128, 48 * 48, 4096, 1),    # one 48² map already holds 2,304 positions
    (128, 24 * 24, 4096, 4),    # 4096 // 576 = 7 -> the largest divisor of 128 below is 4
    (128, 12 * 12, 4096, 16),   # 28 -> 16
    (128, 6 * 6, 4096, 64),     # 113 -> 64
    (128, 3 * 3, 4096, 128),    # the whole batch in one chunk
    (6, 25, 100, 3),            # 4 -> 3 (6 has no divisor 4)
    (7, 1000, 10, 1),           # never below one example
])
def test_chunk_size_by_hand(batch, per_example, positions, expected):
    assert conv_grad.chunk_size(batch, per_example, positions) == expected


def test_resolve_auto_by_backend_and_devices():
    assert conv_grad.resolve(conv_grad.AUTO, backend="cpu", devices=1) == conv_grad.CPU_POSITIONS
    assert conv_grad.resolve(conv_grad.AUTO, backend="gpu", devices=1) == 0
    assert conv_grad.resolve(conv_grad.AUTO, backend="tpu", devices=1) == 0
    assert conv_grad.resolve(conv_grad.AUTO, backend="cpu", devices=8) == 0  # a sharded batch
    assert conv_grad.resolve(0, backend="cpu", devices=1) == 0
    assert conv_grad.resolve(2048, backend="gpu", devices=8) == 2048  # an explicit setting wins


def test_bad_setting_names_the_field():
    with pytest.raises(ValueError, match=r"config\.model\.conv_grad_positions=-2"):
        conv_grad.resolve(-2)


def test_batch_group_count_is_refused():
    chunked = conv_grad.chunked_weight_grad_conv(positions=16)
    with pytest.raises(ValueError, match="batch_group_count"):
        chunked(jnp.ones((2, 4, 4, 2)), jnp.ones((3, 3, 1, 2)), (1, 1), "SAME",
                dimension_numbers=("NHWC", "HWIO", "NHWC"), batch_group_count=2)


def test_non_positive_positions_is_plain_lax():
    assert conv_grad.chunked_weight_grad_conv(0) is lax.conv_general_dilated
    assert conv_grad.for_training(2048, train=False) is lax.conv_general_dilated


def _train_grads(model, images):
    variables = model.init(jax.random.key(0), images)

    def loss(params):
        out, _ = model.apply({**variables, "params": params}, images, train=True,
                             rngs={"dropout": jax.random.key(1)}, mutable=["batch_stats"])
        return jnp.mean(jax.nn.log_softmax(out["logits"])[:, 0])

    return variables, jax.jit(jax.value_and_grad(loss))(variables["params"])


@pytest.mark.parametrize("make", [
    lambda p: vgg.VGGFER(num_classes=7, widths=(8, 16), width_multiplier=1.0,
                         conv_grad_positions=p),
    lambda p: sun.SunAttention(num_classes=7, batch_norm=True, conv_grad_positions=p),
])
def test_model_train_gradients_match_xla_and_inference_is_unchanged(make):
    images = jax.random.normal(jax.random.key(4), (8, 32, 32, 1))
    variables, (loss0, grads0) = _train_grads(make(0), images)
    _, (loss, grads) = _train_grads(make(64), images)  # chunks of 2 examples at 32²... 1 at 16²
    assert float(loss) == float(loss0)  # the forward pass is the same convolution
    for g, g0 in zip(jax.tree.leaves(grads), jax.tree.leaves(grads0)):
        np.testing.assert_allclose(g, g0, rtol=2e-4, atol=1e-6)
    assert any(not np.array_equal(g, g0)
               for g, g0 in zip(jax.tree.leaves(grads), jax.tree.leaves(grads0))), \
        "chunking changed no summation: the chunked path did not run"
    # Inference is the plain convolution whatever the setting: same parameters, same outputs.
    out0 = make(0).apply(variables, images)["logits"]
    out = make(64).apply(variables, images)["logits"]
    np.testing.assert_array_equal(out, out0)


def test_auto_leaves_narrow_kernels_to_xla():
    """min_features (AUTO: CPU_MIN_FEATURES) leaves narrower kernels to XLA's own gradient: the
    chunked gradient has one weight-gradient convolution per chunk, the plain one a single one."""
    x = jax.random.normal(jax.random.key(5), (4, 6, 6, 2))
    args = dict(window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def convolutions(conv, k):
        jaxpr = jax.make_jaxpr(jax.grad(lambda k: jnp.sum(conv(x, k, **args))))(k)
        return str(jaxpr).count("conv_general_dilated[")

    conv = conv_grad.chunked_weight_grad_conv(positions=36, min_features=8)  # 1 example a chunk
    narrow, wide = (jax.random.normal(jax.random.key(6), (3, 3, 2, f)) for f in (4, 8))
    assert convolutions(conv, narrow) == convolutions(lax.conv_general_dilated, narrow)
    assert convolutions(conv, wide) > convolutions(lax.conv_general_dilated, wide)
    assert conv_grad.CPU_MIN_FEATURES == 32


def test_bfloat16_chunks_accumulate_in_float32():
    """A bfloat16 kernel's gradient summed over 256 one-example chunks stays within bfloat16's
    rounding (2^-8) of the float32 gradient: the partial sums add up in float32. Added up in
    bfloat16 they would be off by about 6 % here (all-positive terms)."""
    x = jax.random.normal(jax.random.key(7), (256, 4, 4, 8)) + 1.0
    k = jax.random.normal(jax.random.key(8), (3, 3, 8, 8))
    args = dict(window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def grad(conv, dtype):
        f = lambda k: jnp.sum(conv(x.astype(dtype), k.astype(dtype), **args).astype(jnp.float32))
        return jax.jit(jax.grad(f))(k)

    exact = grad(lax.conv_general_dilated, jnp.float32)
    chunked = conv_grad.chunked_weight_grad_conv(positions=16)  # one 4×4 example per chunk
    got = grad(chunked, jnp.bfloat16)
    assert float(jnp.max(jnp.abs(got - exact)) / jnp.max(jnp.abs(exact))) < 2.0 ** -8
