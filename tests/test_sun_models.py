import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.models import sun


def _param_count(tree):
    return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(tree))


@pytest.fixture(scope="module")
def attention_variables():
    model = sun.SunAttention(num_classes=7)
    return model, model.init(jax.random.key(0), jnp.zeros((1, 144, 112, 1)))


def test_dropout_acts_before_the_classifier_only_in_training(attention_variables):
    model, variables = attention_variables
    x = jax.random.normal(jax.random.key(1), (2, 144, 112, 1))
    train = lambda key: model.apply(variables, x, train=True, rngs={"dropout": key})["logits"]
    assert not np.allclose(train(jax.random.key(2)), train(jax.random.key(3)))
    inference = model.apply(variables, x)["logits"]
    np.testing.assert_array_equal(inference, model.apply(variables, x)["logits"])
    no_dropout = sun.SunAttention(num_classes=7, dropout_rate=0.0)
    np.testing.assert_allclose(no_dropout.apply(variables, x, train=True,
                                                rngs={"dropout": jax.random.key(2)})["logits"],
                               inference, rtol=1e-5, atol=1e-6)


def test_trunk_layers_are_named_by_block_and_position_with_optional_batch_norm():
    # The names are the checkpoint's keys: conv<block>_<i> as Table 2, bn<block>_<i> after each.
    names = [f"{block}_{i}" for block, (_, n) in enumerate(sun.CONV_PLAN, 1)
             for i in range(1, n + 1)]
    model = sun.SunBaseline(num_classes=7, batch_norm=True)
    variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 144, 112, 1)))
    trunk = variables["params"]["trunk"]
    assert sorted(trunk) == sorted([f"conv{n}" for n in names] + [f"bn{n}" for n in names])
    assert sorted(variables["batch_stats"]["trunk"]) == sorted(f"bn{n}" for n in names)
    plain = jax.eval_shape(sun.SunBaseline(num_classes=7).init, jax.random.key(0),
                           jnp.zeros((1, 144, 112, 1)))
    assert sorted(plain["params"]["trunk"]) == sorted(f"conv{n}" for n in names)
    assert "batch_stats" not in plain
    for cls in (sun.SunAttention, sun.SunGAP):
        shapes = jax.eval_shape(cls(num_classes=7).init, jax.random.key(0),
                                jnp.zeros((1, 144, 112, 1)))
        assert sorted(shapes["params"]["trunk"]) == sorted(f"conv{n}" for n in names)


def test_baseline_has_exactly_table2_weights():
    model = sun.SunBaseline(num_classes=7)
    params = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 144, 112, 1)))["params"]
    assert _param_count(params) == 360_720
    assert params["fc"]["kernel"].shape == (8064, 7)


def test_attention_mapping_sizes_match_table3(attention_variables):
    _, variables = attention_variables
    att = variables["params"]["attention"]
    assert att["w1"]["kernel"].shape == (128, 66)
    assert att["w2"]["kernel"].shape == (66, 1)
    weights_only = att["w1"]["kernel"].size + att["w2"]["kernel"].size
    assert weights_only == 128 * 66 + 66 * 1
    conv = _param_count(variables["params"]["trunk"])
    assert conv == 360_720 - 8064 * 7
    assert variables["params"]["fc"]["kernel"].shape == (128, 7)


def test_weight_map_sums_to_one_and_shapes(attention_variables):
    model, variables = attention_variables
    x = jax.random.normal(jax.random.key(1), (2, 144, 112, 1))
    out = model.apply(variables, x)
    assert out["logits"].shape == (2, 7)
    assert out["attention"].shape == (2, 9, 7)
    np.testing.assert_allclose(out["attention"].sum(axis=(1, 2)), 1.0, rtol=1e-5)


def test_weight_map_matches_equation_4_by_hand():
    scores = jnp.array([[[0.0, 1.0], [2.0, -1.0]]])
    beta = 2.0
    e = np.exp(beta * np.array([0.0, 1.0, 2.0, -1.0]))
    expected = (e / e.sum()).reshape(1, 2, 2)
    np.testing.assert_allclose(sun.attention_weight_map(scores, beta), expected, rtol=1e-6)


def test_symmetric_map_is_mirror_symmetric_and_normalised():
    scores = jax.random.normal(jax.random.key(2), (3, 9, 7))
    weights = sun.attention_weight_map(scores, 1.5, symmetric=True)
    np.testing.assert_allclose(weights, weights[:, :, ::-1], rtol=1e-6)
    np.testing.assert_allclose(weights.sum(axis=(1, 2)), 1.0, rtol=1e-5)


def test_printed_equation_5_is_symmetric_but_sums_below_one():
    scores = jax.random.normal(jax.random.key(3), (2, 9, 7))
    weights = sun.attention_weight_map(scores, 1.0, symmetric=True, symmetric_denominator="paper")
    np.testing.assert_allclose(weights, weights[:, :, ::-1], rtol=1e-6)
    assert np.all(np.asarray(weights.sum(axis=(1, 2))) < 1.0)


def test_symmetric_model_map_is_symmetric():
    model = sun.SunAttention(num_classes=8, symmetric=True)
    x = jax.random.normal(jax.random.key(4), (1, 64, 48, 1))
    variables = model.init(jax.random.key(0), x)
    weights = model.apply(variables, x)["attention"]
    np.testing.assert_allclose(weights, weights[:, :, ::-1], rtol=1e-5)


def test_attention_model_is_fully_convolutional(attention_variables):
    model, variables = attention_variables
    for shape in [(1, 64, 64, 1), (1, 272, 272, 1)]:
        out = model.apply(variables, jnp.ones(shape))
        assert out["logits"].shape == (1, 7)
        assert out["attention"].shape == (1, shape[1] // 16, shape[2] // 16)


def test_gap_uses_a_uniform_map():
    model = sun.SunGAP(num_classes=8)
    x = jax.random.normal(jax.random.key(5), (2, 32, 32, 1))
    variables = model.init(jax.random.key(0), x)
    out = model.apply(variables, x)
    np.testing.assert_allclose(out["attention"], 1.0 / 4.0)
    z = out["features"].mean(axis=(1, 2))
    np.testing.assert_allclose(out["logits"], z @ variables["params"]["fc"]["kernel"], rtol=1e-5)


def test_bad_symmetric_denominator_names_the_field():
    with pytest.raises(ValueError, match="symmetric_denominator"):
        sun.attention_weight_map(jnp.zeros((1, 2, 2)), symmetric=True, symmetric_denominator="x")


def _attention_by_hand(features, params, beta=1.0, symmetric=False):
    """Eq. 1-5 in NumPy: tanh MLP per position, (mirrored) softmax, weighted feature sum."""
    f = np.asarray(features, np.float64)
    w1, b1 = (np.asarray(params["w1"][k], np.float64) for k in ("kernel", "bias"))
    w2, b2 = (np.asarray(params["w2"][k], np.float64) for k in ("kernel", "bias"))
    a2 = np.tanh(np.tanh(f @ w1 + b1) @ w2 + b2)[..., 0]
    if symmetric:
        a2 = 0.5 * (a2 + a2[:, :, ::-1])
    e = np.exp(beta * a2)
    weights = e / e.sum(axis=(1, 2), keepdims=True)
    return np.einsum("bhw,bhwc->bc", weights, f), weights


@pytest.mark.parametrize("symmetric", [False, True])
def test_attention_mapping_matches_equations_by_hand(symmetric):
    # Scores well outside [-1, 1] so tanh, ReLU and the identity give different maps.
    features = 2.0 * jax.random.normal(jax.random.key(6), (2, 3, 4, 5))
    mapping = sun.AttentionMapping(hidden=6, beta=1.5, symmetric=symmetric)
    variables = mapping.init(jax.random.key(7), features)
    params = jax.tree_util.tree_map(lambda p: 3.0 * p + 0.2, variables["params"])
    z, weights = mapping.apply({"params": params}, features)
    z_ref, weights_ref = _attention_by_hand(features, params, 1.5, symmetric)
    np.testing.assert_allclose(weights, weights_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(z, z_ref, rtol=1e-5, atol=1e-6)


def test_symmetric_weight_map_by_hand():
    a, b, c = 0.4, -1.0, 2.0
    scores = jnp.array([[[a, b, c]]])
    mid = (a + c) / 2  # Eq. 5 mirrors with a ½: (A2(i, j) + A2(i, W + 1 - j)) / 2
    e = np.exp(2.0 * np.array([mid, b, mid]))
    np.testing.assert_allclose(sun.attention_weight_map(scores, 2.0, symmetric=True)[0, 0],
                               e / e.sum(), rtol=1e-6)
    printed = e / np.exp(2.0 * np.array([a, b, c])).sum()
    np.testing.assert_allclose(
        sun.attention_weight_map(scores, 2.0, symmetric=True, symmetric_denominator="paper")[0, 0],
        printed, rtol=1e-6)


@pytest.mark.parametrize("shape", [(1, 144, 112, 1), (2, 64, 48, 1)])
def test_fully_convolutional_map_values(attention_variables, shape):
    model, variables = attention_variables
    x = jax.random.normal(jax.random.key(8), shape)
    out = model.apply(variables, x)
    z_ref, weights_ref = _attention_by_hand(out["features"], variables["params"]["attention"])
    np.testing.assert_allclose(out["attention"], weights_ref, rtol=1e-4, atol=1e-7)
    logits_ref = z_ref @ np.asarray(variables["params"]["fc"]["kernel"], np.float64)
    np.testing.assert_allclose(out["logits"], logits_ref, rtol=1e-4, atol=1e-5)


def test_printed_equation_5_normalises_each_example_by_its_own_scores():
    scores = jax.random.normal(jax.random.key(0), (2, 3, 4))
    both = sun.attention_weight_map(scores, 1.0, symmetric=True, symmetric_denominator="paper")
    for i in range(2):
        alone = sun.attention_weight_map(scores[i:i + 1], 1.0, symmetric=True,
                                         symmetric_denominator="paper")
        np.testing.assert_allclose(both[i:i + 1], alone, rtol=1e-6)


@pytest.mark.parametrize("cls", [sun.SunBaseline, sun.SunGAP])
def test_baseline_and_gap_outputs_and_their_dropout(cls):
    model = cls(num_classes=7)
    x = jax.random.normal(jax.random.key(1), (2, 144, 112, 1))
    variables = model.init(jax.random.key(0), x)
    inference = model.apply(variables, x)
    assert inference["logits"].shape == (2, 7)
    train = lambda key: model.apply(variables, x, train=True, rngs={"dropout": key})["logits"]  # noqa: E731
    assert not np.allclose(train(jax.random.key(2)), train(jax.random.key(3)))
    if cls is sun.SunGAP:
        # The uniform map follows the features' dtype (bfloat16 under mixed precision).
        half = jax.tree.map(lambda p: p.astype(jnp.bfloat16), variables)
        assert model.apply(half, x.astype(jnp.bfloat16))["attention"].dtype == jnp.bfloat16


@pytest.mark.parametrize("cls", [sun.SunBaseline, sun.SunAttention, sun.SunGAP])
def test_training_mode_reaches_the_trunk_batch_norm(cls):
    model = cls(num_classes=7, batch_norm=True)
    x = jax.random.normal(jax.random.key(1), (2, 144, 112, 1))
    variables = model.init(jax.random.key(0), x)
    _, updates = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)},
                             mutable=["batch_stats"])
    old = variables["batch_stats"]["trunk"]["bn1_1"]["mean"]
    assert not np.allclose(updates["batch_stats"]["trunk"]["bn1_1"]["mean"], old)
