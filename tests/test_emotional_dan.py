"""EmotionalDAN model: shapes, initial shape, parameter counts, stage freezing, label spaces."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax import labels as label_maps
from ferjax.models import build_model
from ferjax.train import optim, steps
from ferjax.train import state as state_lib

SIZE = 32
TINY = {"name": "emotional_dan", "base_channels": 2, "fc_units": 8}


def _mean_shape(size):
    """A face-like 68-point layout scaled to a size × size image."""
    rng = np.random.default_rng(0)
    unit = rng.uniform(0.25, 0.75, size=(68, 2))
    unit[36:42] = [0.35, 0.4]
    unit[42:48] = [0.65, 0.4]
    return unit * size


def _data_info(num_classes=3, size=SIZE):
    return {"num_classes": num_classes, "image_shape": (size, size, 1),
            "mean_landmarks": _mean_shape(size)}


@pytest.fixture(scope="module")
def tiny():
    model = build_model(TINY, _data_info())
    images = jnp.asarray(np.random.default_rng(1).normal(size=(4, SIZE, SIZE, 1)), jnp.float32)
    variables = jax.jit(model.init)(jax.random.key(0), images)
    return model, variables, images


def test_outputs_have_the_contract_shapes(tiny):
    model, variables, images = tiny
    out = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, images)
    assert out["logits"].shape == (4, 3)
    assert out["landmarks"].shape == (4, 68, 2)
    assert out["stage_landmarks"].shape == (2, 4, 68, 2)
    assert out["stage_logits"].shape == (2, 4, 3)
    np.testing.assert_array_equal(out["landmarks"], out["stage_landmarks"][-1])
    # A new refining stage starts as the identity: its ΔS head is zero-initialised.
    np.testing.assert_allclose(out["stage_landmarks"][1], out["stage_landmarks"][0], atol=1e-3)
    assert float(jnp.abs(out["stage_landmarks"][0] - _mean_shape(SIZE)).max()) > 0.01
    assert set(variables) == {"params", "batch_stats"}
    assert set(variables["params"]) == {"stage_1", "stage_2"}


def test_zero_landmark_deltas_return_the_mean_shape(tiny):
    model, variables, images = tiny
    params = jax.tree_util.tree_map_with_path(
        lambda path, p: jnp.zeros_like(p) if "fc2_landmark" in jax.tree_util.keystr(path) else p,
        variables["params"])
    out = jax.jit(lambda v, x: model.apply(v, x))({**variables, "params": params}, images)
    mean = np.broadcast_to(_mean_shape(SIZE), (2, 4, 68, 2))
    np.testing.assert_allclose(out["stage_landmarks"], mean, atol=1e-3)


def _count(tree):
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_parameter_counts_match_table_1(tiny):
    _, variables, _ = tiny
    c, f, k = 2, 8, 3  # base channels, fc1 units, classes
    widths = [1, c, c, 2 * c, 2 * c, 4 * c, 4 * c, 8 * c, 8 * c]
    convs = sum(9 * a * b + b + 2 * b for a, b in zip(widths[:-1], widths[1:]))  # + BN scale/bias
    head = (SIZE // 16) ** 2 * 8 * c * f + f + 2 * f + f * 136 + 136 + f * k + k
    assert _count(variables["params"]["stage_1"]) == convs + head
    # Stage 2: 3 input channels, input BN (2·3) and the feature-image dense f → (32/2)².
    convs2 = convs + 9 * 2 * c
    assert _count(variables["params"]["stage_2"]) == (convs2 + head + 6
                                                      + f * (SIZE // 2) ** 2 + (SIZE // 2) ** 2)


def test_full_size_stage_has_about_30m_parameters_dominated_by_fc1():
    model = build_model({"name": "emotional_dan"}, _data_info(7, 224))
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 224, 224, 1)))
    stage_1 = shapes["params"]["stage_1"]
    fc1 = _count(stage_1["fc1"])
    assert fc1 == 14 * 14 * 512 * 256 + 256
    assert 30.0e6 < _count(stage_1) < 30.8e6
    assert fc1 / _count(stage_1) > 0.8


def _batch(images):
    rng = np.random.default_rng(2)
    landmarks = _mean_shape(SIZE)[None] + rng.normal(0, 1, size=(images.shape[0], 68, 2))
    return {"image": images, "label": jnp.array([0, 1, 2, 1], jnp.int32),
            "weight": jnp.ones(images.shape[0]),
            "landmarks": jnp.asarray(landmarks, jnp.float32)}


def test_stage_2_step_leaves_stage_1_parameters_and_statistics_bit_identical(tiny):
    _, variables, images = tiny
    # The stage-2 phase as ferjax.runs.stagewise configures it: stage 1 frozen in the model,
    # only "^stage_2/" trained, SGD with the triangular cyclical learning rate.
    model = build_model({**TINY, "active_stages": 2, "frozen_stages": 1}, _data_info())
    tx = optim.make_optimizer({"name": "sgd"}, optim.make_schedule(
        {"kind": "triangular", "low": 1e-4, "high": 0.05, "half_cycle": 2}, 4))
    state = state_lib.create_train_state(model, variables, tx, "^stage_2/")
    terms = {"landmark_nme": {"weight": 0.4}, "emotion_ce": {"weight": 0.6}}
    step = jax.jit(lambda s, b, k: steps.train_step(s, b, k, loss_terms=terms))
    new, metrics = step(state, _batch(images), jax.random.key(3))
    assert float(metrics["finite"]) == 1.0
    old = {"params": state.params, "batch_stats": state.batch_stats}
    new = {"params": new.params, "batch_stats": new.batch_stats}
    for collection in ("params", "batch_stats"):
        for old_leaf, new_leaf in zip(jax.tree.leaves(old[collection]["stage_1"]),
                                      jax.tree.leaves(new[collection]["stage_1"])):
            np.testing.assert_array_equal(np.asarray(new_leaf), np.asarray(old_leaf))
        changed = [not np.array_equal(a, b) for a, b in zip(
            jax.tree.leaves(old[collection]["stage_2"]),
            jax.tree.leaves(new[collection]["stage_2"]))]
        assert any(changed), f"stage-2 {collection} did not change"


def test_frozen_stage_runs_without_dropout(tiny):
    _, variables, images = tiny

    def stage_1_logits(frozen, key):
        model = build_model({**TINY, "frozen_stages": frozen}, _data_info())
        out, _ = model.apply(variables, images, train=True, rngs={"dropout": key},
                             mutable=["batch_stats"])
        return out["stage_logits"][0]

    apply = jax.jit(stage_1_logits, static_argnums=0)
    np.testing.assert_array_equal(apply(1, jax.random.key(4)), apply(1, jax.random.key(5)))
    assert not np.array_equal(apply(0, jax.random.key(4)), apply(0, jax.random.key(5)))


def test_three_class_space_drops_surprise_and_builds_a_three_way_head():
    table = label_maps.label_map_table("three")
    canonical = np.arange(label_maps.NUM_CLASSES)
    mapped = table[canonical]
    assert mapped[label_maps.class_index("surprise")] == label_maps.DROPPED
    kept = mapped[mapped != label_maps.DROPPED]
    names = label_maps.label_space_classes("three")
    assert sorted(set(kept.tolist())) == [0, 1, 2] and len(kept) == 7
    assert [names[i] for i in mapped[[1, 7, 2, 4, 5, 6, 0]]] == \
        ["positive", "positive", "negative", "negative", "negative", "negative", "neutral"]
    model = build_model(TINY, _data_info(num_classes=len(names)))
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, SIZE, SIZE, 1)))
    assert shapes["params"]["stage_2"]["fc2_emotion"]["kernel"].shape == (8, 3)


@pytest.mark.parametrize("override, message", [
    ({"bn_order": "bn_first"}, "bn_order"),
    ({"dropout_placement": "conv"}, "dropout_placement"),
    ({"num_stages": 0}, "num_stages"),
    ({"frozen_stages": 2}, "frozen_stages"),
    ({"active_stages": 3}, "active_stages"),
    ({"widht": 3}, "widht"),
])
def test_bad_config_values_are_named(override, message):
    with pytest.raises(ValueError, match=message):
        build_model({**TINY, **override}, _data_info())


def test_missing_mean_landmarks_and_bad_images_are_named():
    with pytest.raises(ValueError, match="mean_landmarks"):
        build_model(TINY, {"num_classes": 7, "image_shape": (32, 32, 1)})
    with pytest.raises(ValueError, match="mean_landmarks"):
        build_model(TINY, {"num_classes": 7, "mean_landmarks": np.zeros((5, 2))})
    model = build_model(TINY, _data_info())
    with pytest.raises(ValueError, match="multiples of 16"):
        jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 30, 30, 1)))


@pytest.mark.parametrize("order", ["relu_bn", "bn_relu", "none"])
def test_conv_block_applies_relu_and_batch_norm_in_the_configured_order(order):
    from ferjax.models.emotional_dan import ConvBlock
    block = ConvBlock(features=3, bn_order=order)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 4, 4, 2)), jnp.float32)
    variables = block.init(jax.random.key(0), x, train=False)
    stats = {"bn": {"mean": jnp.array([0.3, -0.2, 0.1]), "var": jnp.array([0.5, 2.0, 1.0])}}
    params = {**variables["params"]}
    if order != "none":
        params["bn"] = {"scale": jnp.array([1.5, 0.5, -1.0]), "bias": jnp.array([0.2, -0.1, 0.3])}
    conv = jax.lax.conv_general_dilated(x, params["conv"]["kernel"], (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    conv = conv + params["conv"]["bias"]
    bn = lambda y: ((y - stats["bn"]["mean"]) / jnp.sqrt(stats["bn"]["var"] + 1e-3)  # noqa: E731
                    * params["bn"]["scale"] + params["bn"]["bias"])
    expected = {"relu_bn": lambda: bn(jax.nn.relu(conv)), "bn_relu": lambda: jax.nn.relu(bn(conv)),
                "none": lambda: jax.nn.relu(conv)}[order]()
    applied = block.apply({"params": params, **({"batch_stats": stats} if order != "none"
                                                else {})}, x, train=False)
    np.testing.assert_allclose(applied, expected, rtol=1e-5, atol=1e-6)


def test_later_stages_name_their_layers_and_take_image_heatmap_and_feature_image(tiny):
    _, variables, _ = tiny
    stage_2 = variables["params"]["stage_2"]
    assert set(stage_2) == {"input_bn", "feature_dense", "conv1a", "conv1b", "conv2a", "conv2b",
                            "conv3a", "conv3b", "conv4a", "conv4b", "fc1", "fc1_bn",
                            "fc2_landmark", "fc2_emotion"}
    assert set(variables["params"]["stage_1"]) == set(stage_2) - {"input_bn", "feature_dense"}
    # Channels of the stage-2 input: warped image, heatmap and feature image, concatenated.
    assert stage_2["conv1a"]["conv"]["kernel"].shape == (3, 3, 3, 2)
    assert stage_2["input_bn"]["scale"].shape == (3,)


def test_only_the_active_stages_run_and_dropout_can_follow_every_pool(tiny):
    _, variables, images = tiny
    one = build_model({**TINY, "active_stages": 1}, _data_info())
    out = one.apply(variables, images)
    assert out["stage_landmarks"].shape == (1, 4, 68, 2)
    every_pool = build_model({**TINY, "dropout_placement": "every_pool"}, _data_info())
    run = lambda key: every_pool.apply(variables, images, train=True, rngs={"dropout": key},  # noqa: E731
                                       mutable=["batch_stats"])[0]["logits"]
    first, second = run(jax.random.key(0)), run(jax.random.key(1))
    assert np.all(np.isfinite(first)) and not np.allclose(first, second)


def test_factory_accepts_one_active_stage_and_names_config_fields():
    assert build_model({**TINY, "active_stages": 1}, _data_info()).active_stages == 1
    with pytest.raises(ValueError, match=r"config\.model\.bn_order='bn_first'"):
        build_model({**TINY, "bn_order": "bn_first"}, _data_info())
    with pytest.raises(ValueError, match=r"config\.model\.mean_shape"):
        build_model({**TINY, "mean_shape": ((0.0, 0.0),) * 68}, _data_info())


def test_batch_norm_momentum_reaches_every_stage(tiny):
    _, variables, images = tiny

    def stats(momentum):
        model = build_model({**TINY, "bn_momentum": momentum}, _data_info())
        return model.apply(variables, images, train=True, rngs={"dropout": jax.random.key(0)},
                           mutable=["batch_stats"])[1]["batch_stats"]

    slow, fast = stats(0.99), stats(0.9)
    for stage in ("stage_1", "stage_2"):
        old = variables["batch_stats"][stage]["conv1a"]["bn"]["mean"]
        # m·old + (1 − m)·batch: the step from old is 10× larger with momentum 0.9.
        np.testing.assert_allclose(fast[stage]["conv1a"]["bn"]["mean"] - old,
                                   10 * (slow[stage]["conv1a"]["bn"]["mean"] - old),
                                   rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("field", ["heatmap_anchor", "feature_upscale"])
def test_bad_choices_name_their_config_field(field):
    with pytest.raises(ValueError, match=rf"config\.model\.{field}='nope'; choose one of"):
        build_model({**TINY, field: "nope"}, _data_info())
