"""Jalal et al. 2019 model and the shared SAGAN self-attention layer."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.models import build_model
from ferjax.models.jalal import JalalSelfAttentionNet, jalal_from_config
from ferjax.models.layers import SelfAttention2D, adaptive_avg_pool


def _naive_self_attention(y, params):
    """Per-position loop: out_i = γ Σ_j softmax_j(q_iᵀ k_j) v_j + y_i."""
    b, h, w, c = y.shape
    flat = y.reshape(b, h * w, c).astype(np.float64)
    proj = lambda name: flat @ np.asarray(params[name]["kernel"][0, 0]) + np.asarray(
        params[name]["bias"])
    q, k, v = proj("W_j"), proj("W_k"), proj("W_l")
    gamma = float(params["gamma"][0])
    out = np.empty_like(flat)
    weights = np.empty((b, h * w, h * w))
    for n in range(b):
        for i in range(h * w):
            scores = np.array([q[n, i] @ k[n, j] for j in range(h * w)])
            e = np.exp(scores - scores.max())
            e /= e.sum()
            weights[n, i] = e
            out[n, i] = gamma * sum(e[j] * v[n, j] for j in range(h * w)) + flat[n, i]
    return out.reshape(b, h, w, c), weights


def test_self_attention_matches_naive_loop():
    y = jax.random.normal(jax.random.key(1), (2, 3, 4, 16))
    layer = SelfAttention2D(gamma_init="random")
    variables = layer.init(jax.random.key(2), y)
    out, weights = layer.apply(variables, y, return_attention=True)
    expected_out, expected_weights = _naive_self_attention(np.asarray(y), variables["params"])
    assert variables["params"]["W_j"]["kernel"].shape == (1, 1, 16, 2)
    assert variables["params"]["W_l"]["kernel"].shape == (1, 1, 16, 16)
    assert weights.shape == (2, 12, 12)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out, expected_out, rtol=1e-4, atol=1e-5)


def test_gamma_zero_is_identity_and_rows_sum_to_one():
    y = jax.random.normal(jax.random.key(3), (1, 5, 5, 8))
    layer = SelfAttention2D(gamma_init="zero")
    variables = layer.init(jax.random.key(4), y)
    out, weights = layer.apply(variables, y, return_attention=True)
    np.testing.assert_array_equal(out, y)
    np.testing.assert_allclose(weights.sum(-1), np.ones((1, 25)), rtol=1e-6)


def test_random_gamma_is_drawn_in_unit_interval():
    y = jnp.zeros((1, 2, 2, 8))
    gammas = [float(SelfAttention2D().init(jax.random.key(s), y)["params"]["gamma"][0])
              for s in range(5)]
    assert all(0.0 <= g < 1.0 for g in gammas)
    assert len(set(gammas)) == 5


def test_self_attention_rejects_bad_input():
    with pytest.raises(ValueError, match="gamma_init='ones'"):
        SelfAttention2D(gamma_init="ones").init(jax.random.key(0), jnp.zeros((1, 2, 2, 8)))
    with pytest.raises(ValueError, match=r"\(B, H, W, C\)"):
        SelfAttention2D().init(jax.random.key(0), jnp.zeros((2, 2, 8)))
    with pytest.raises(ValueError, match="4 channels"):
        SelfAttention2D().init(jax.random.key(0), jnp.zeros((1, 2, 2, 4)))


def test_adaptive_avg_pool_matches_pytorch_bins():
    x = jnp.arange(5.0).reshape(1, 5, 1, 1) * jnp.ones((1, 5, 2, 1))
    # PyTorch bins for 5 -> 3: [0, 2), [1, 4), [3, 5).
    np.testing.assert_allclose(adaptive_avg_pool(x, (3, 1))[0, :, 0, 0], [0.5, 2.0, 3.5])
    # 2 -> 3 repeats: [0, 1), [0, 2), [1, 2).
    y = jnp.array([1.0, 3.0]).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(adaptive_avg_pool(y, (3, 1))[0, :, 0, 0], [1.0, 2.0, 3.0])
    z = jax.random.normal(jax.random.key(0), (2, 6, 9, 3))
    np.testing.assert_allclose(adaptive_avg_pool(z, (3, 3)),
                               z.reshape(2, 3, 2, 3, 3, 3).mean(axis=(2, 4)), atol=1e-6)


def _param_count(model, channels, size=224):
    shapes = jax.eval_shape(
        lambda: model.init(jax.random.key(0), jnp.zeros((1, size, size, channels))))
    return sum(x.size for x in jax.tree.leaves(shapes["params"]))


def test_parameter_count_near_paper():
    model = JalalSelfAttentionNet(num_classes=8)
    count = _param_count(model, 3)
    assert count == 1_690_025
    assert abs(count - 1.69e6) / 1.69e6 < 0.05
    assert _param_count(model, 1) == 1_690_025 - 2 * 9 * 32
    # a1: two 1x1 convs 128->16, one 128->128, and gamma.
    ablation = JalalSelfAttentionNet(num_classes=8, use_attention=False)
    assert count - _param_count(ablation, 3) == 2 * (128 * 16 + 16) + 128 * 128 + 128 + 1
    # The head does not depend on the input size (adaptive pool).
    assert _param_count(model, 3, size=64) == count


@pytest.mark.parametrize("height,width,grid", [(224, 224, (28, 28)), (96, 96, (12, 12)),
                                               (64, 80, (8, 10)), (37, 53, (4, 6))])
def test_output_shapes_for_several_sizes(height, width, grid):
    model = JalalSelfAttentionNet(num_classes=7)
    images = jnp.zeros((2, height, width, 1))
    out = jax.eval_shape(lambda: model.apply(model.init(jax.random.key(0), images), images))
    n = grid[0] * grid[1]
    assert out["logits"].shape == (2, 7)
    assert out["self_attention"].shape == (2, n, n)
    assert out["attention"].shape == (2,) + grid


def test_valid_padding_and_spatial_upsample_change_the_grid():
    images = jnp.zeros((1, 224, 224, 3))
    for kwargs, side in (({"padding": "VALID"}, 21), ({"c3_upsample": True}, 56)):
        model = JalalSelfAttentionNet(num_classes=8, **kwargs)
        out = jax.eval_shape(lambda: model.apply(model.init(jax.random.key(0), images), images))
        assert out["self_attention"].shape == (1, side * side, side * side)


@pytest.fixture(scope="module")
def small_model():
    model = build_model({"name": "jalal_self_attention"}, {"num_classes": 8, "image_shape": (32, 32, 1)})
    images = jax.random.normal(jax.random.key(5), (4, 32, 32, 1))
    variables = model.init(jax.random.key(6), images)
    return model, variables, images


def test_forward_train_and_eval(small_model):
    model, variables, images = small_model
    assert isinstance(model, JalalSelfAttentionNet) and model.num_classes == 8
    out = model.apply(variables, images, train=False)
    assert out["logits"].shape == (4, 8) and np.all(np.isfinite(out["logits"]))
    assert out["attention_grid"] == (4, 4)
    np.testing.assert_allclose(out["self_attention"].sum(-1), np.ones((4, 16)), rtol=1e-5)
    np.testing.assert_allclose(out["attention"].sum((1, 2)), np.ones(4), rtol=1e-5)
    np.testing.assert_allclose(out["attention"][:, 1, 2],
                               out["self_attention"][:, :, 1 * 4 + 2].mean(-1), rtol=1e-5)
    train = lambda key: model.apply(variables, images, train=True, rngs={"dropout": key},
                                    mutable=["batch_stats"])
    (out_a, stats), (out_b, _) = train(jax.random.key(7)), train(jax.random.key(8))
    assert not np.allclose(out_a["logits"], out_b["logits"])  # dropout is active
    assert not np.allclose(stats["batch_stats"]["c1_bn"]["mean"],
                           variables["batch_stats"]["c1_bn"]["mean"])


def test_gamma_receives_gradient(small_model):
    model, variables, images = small_model

    def loss(params):
        out = model.apply({"params": params, "batch_stats": variables["batch_stats"]}, images)
        return jnp.sum(out["logits"] ** 2)

    grads = jax.grad(loss)(variables["params"])
    assert abs(float(grads["a1"]["gamma"][0])) > 0


def test_no_attention_ablation_has_no_attention_output():
    model = jalal_from_config({"use_attention": False}, {"num_classes": 3})
    images = jnp.zeros((1, 32, 32, 3))
    out = jax.eval_shape(lambda: model.apply(model.init(jax.random.key(0), images), images))
    assert set(out) == {"logits"} and out["logits"].shape == (1, 3)


@pytest.mark.parametrize("field,value,message", [
    ("gamma_init", "ones", "config.model.gamma_init"),
    ("padding", "CIRCULAR", "config.model.padding"),
    ("dropout_rate", 1.0, "config.model.dropout_rate"),
])
def test_factory_rejects_bad_config(field, value, message):
    with pytest.raises(ValueError, match=message):
        jalal_from_config({field: value}, {"num_classes": 8})


def test_factory_accepts_no_dropout():
    assert jalal_from_config({"dropout_rate": 0.0}, {"num_classes": 8}).dropout_rate == 0.0


def _forward_by_hand(variables, images):
    """The layer order of the module docstring, written out with lax.conv in eval mode."""
    params, stats = variables["params"], variables["batch_stats"]

    def conv(x, name):
        kernel, bias = params[name]["kernel"], params[name]["bias"]
        y = jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + bias

    def bn(x, name):
        p, s = params[name], stats[name]
        return (x - s["mean"]) / jnp.sqrt(s["var"] + 1e-5) * p["scale"] + p["bias"]

    relu = lambda x: jnp.maximum(x, 0.0)
    pool = lambda x: jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                           "VALID")
    x = relu(bn(conv(images, "c1_conv"), "c1_bn"))
    x = bn(pool(relu(conv(x, "c2_conv1"))), "c2_bn1")
    x = bn(pool(relu(conv(x, "c2_conv2"))), "c2_bn2")
    x = bn(pool(relu(conv(x, "c3_conv1"))), "c3_bn1")
    x = relu(conv(relu(conv(x, "c3_conv2")), "c3_conv3"))
    x, _ = _naive_self_attention(np.asarray(x), params["a1"])
    x = relu(conv(jnp.asarray(x, jnp.float32), "c4_conv"))
    x = bn(adaptive_avg_pool(x, (3, 3)), "c4_bn").reshape(x.shape[0], -1)
    x = relu(x @ params["d1_fc1"]["kernel"] + params["d1_fc1"]["bias"])
    return x @ params["d1_fc2"]["kernel"] + params["d1_fc2"]["bias"]


def test_forward_matches_the_layer_order_by_hand(small_model):
    model, variables, images = small_model
    # BN scales of both signs and non-trivial statistics: with positive scales BN commutes with
    # the max-pool, and a BN moved before the pool would go unnoticed.
    leaves, treedef = jax.tree_util.tree_flatten(variables)
    keys = jax.random.split(jax.random.key(9), len(leaves))
    noisy = [x + 0.5 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)]
    variables = jax.tree_util.tree_unflatten(treedef, noisy)
    variables["batch_stats"] = jax.tree_util.tree_map(jnp.abs, variables["batch_stats"])
    assert np.any(np.asarray(variables["params"]["c2_bn1"]["scale"]) < 0)
    logits = model.apply(variables, images)["logits"]
    np.testing.assert_allclose(logits, _forward_by_hand(variables, images), rtol=1e-3, atol=1e-3)


def test_c4_batch_norm_normalises_the_pooled_map_in_training(small_model):
    # In inference BatchNorm is a per-channel affine map and commutes with average pooling; in
    # training its batch statistics are those of the 3×3 pooled map, not of the full map.
    model, variables, images = small_model
    _, state = model.apply(variables, images, train=True, rngs={"dropout": jax.random.key(0)},
                           mutable=["batch_stats", "intermediates"], capture_intermediates=True)
    conv = state["intermediates"]["c4_conv"]["__call__"][0]
    pooled = adaptive_avg_pool(jnp.maximum(conv, 0.0), (3, 3))
    old = variables["batch_stats"]["c4_bn"]["var"]
    np.testing.assert_allclose(state["batch_stats"]["c4_bn"]["var"],
                               0.9 * old + 0.1 * jnp.var(pooled, axis=(0, 1, 2)),
                               rtol=1e-4, atol=1e-6)


def test_images_without_a_batch_axis_are_named():
    model = jalal_from_config({}, {"num_classes": 3})
    with pytest.raises(ValueError, match=r"expects \(B, H, W, C\) images, got \(32, 32, 3\)"):
        jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((32, 32, 3)))


def test_self_attention_computes_in_its_dtype():
    from ferjax.models.layers import attention_weights
    q = jnp.ones((1, 4, 2), jnp.bfloat16)
    assert attention_weights(q, q).dtype == jnp.bfloat16
    layer = SelfAttention2D(dtype=jnp.bfloat16)
    y = jax.random.normal(jax.random.key(0), (1, 4, 4, 8))
    variables = layer.init(jax.random.key(1), y)
    _, state = layer.apply(variables, y, capture_intermediates=True, mutable=["intermediates"])
    for conv in ("W_j", "W_k", "W_l"):
        assert state["intermediates"][conv]["__call__"][0].dtype == jnp.bfloat16, conv
