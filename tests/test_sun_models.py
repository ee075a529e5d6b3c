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
