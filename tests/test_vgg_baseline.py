"""The VGG-style baseline: model shapes and size, its optimiser and schedule, the EMA of the
weights (update by hand, checkpoint and resume, evaluation on it), mixup targets, and its config."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from toy import toy_config

from ferjax import losses as loss_lib
from ferjax.configs import vgg_fer
from ferjax.models import build_model
from ferjax.train import checkpoint, ema, loop, optim
from ferjax.train import state as state_lib


def _vgg_parameters(widths, in_channels, num_classes):
    """By hand: two bias-free 3×3 convolutions per stage, a BatchNorm (scale, bias) after each,
    then the dense classifier with bias on the pooled last stage."""
    total, c_in = 0, in_channels
    for w in widths:
        total += 9 * c_in * w + 9 * w * w + 2 * (2 * w)
        c_in = w
    return total + c_in * num_classes + num_classes


@pytest.fixture(scope="module")
def small_vgg():
    model = build_model({"name": "vgg_fer", "width_multiplier": 0.25},
                        {"num_classes": 7, "image_shape": (48, 48, 1)})
    variables = state_lib.init_variables(model, jax.random.key(0), (48, 48, 1))
    return model, variables


def test_vgg_shapes_and_parameter_count(small_vgg):
    model, variables = small_vgg
    out = model.apply(variables, jnp.zeros((2, 48, 48, 1)), train=False)
    assert out["logits"].shape == (2, 7)
    assert out["features"].shape == (2, 3, 3, 128)     # 48 / 2^4, widths ×0.25 = 16..128
    count = sum(x.size for x in jax.tree.leaves(variables["params"]))
    assert count == _vgg_parameters((16, 32, 64, 128), 1, 7) == 294_615
    assert sorted(variables["batch_stats"]) == [f"bn{s}_{i}" for s in range(1, 5)
                                                for i in (1, 2)]


def _vgg_forward_by_hand(variables, images):
    """Eval mode, written with lax.conv: per stage two (conv 3×3 SAME, no bias → BatchNorm with
    running statistics → ReLU), then 2×2 max-pool; global mean; dense."""
    params, stats = variables["params"], variables["batch_stats"]
    x = images
    for stage in range(1, 5):
        for i in (1, 2):
            x = jax.lax.conv_general_dilated(x, params[f"conv{stage}_{i}"]["kernel"], (1, 1),
                                             "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
            bn, st = params[f"bn{stage}_{i}"], stats[f"bn{stage}_{i}"]
            x = (x - st["mean"]) / jnp.sqrt(st["var"] + 1e-5) * bn["scale"] + bn["bias"]
            x = jnp.maximum(x, 0.0)
        x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    return jnp.mean(x, axis=(1, 2)) @ params["fc"]["kernel"] + params["fc"]["bias"], x


def test_vgg_forward_matches_the_layer_order_by_hand(small_vgg):
    model, variables = small_vgg
    rng = np.random.default_rng(0)
    # Non-trivial statistics and affine, so each BatchNorm's place and parameters matter.
    stats = jax.tree.map(lambda v: jnp.asarray(rng.uniform(0.5, 1.5, v.shape), jnp.float32),
                         variables["batch_stats"])
    params = dict(variables["params"])
    for name in params:
        if name.startswith("bn"):
            params[name] = jax.tree.map(
                lambda v: jnp.asarray(rng.uniform(-0.5, 1.5, v.shape), jnp.float32), params[name])
    variables = {"params": params, "batch_stats": stats}
    images = jnp.asarray(rng.normal(size=(2, 48, 48, 1)), jnp.float32)
    logits, features = _vgg_forward_by_hand(variables, images)
    out = model.apply(variables, images)          # inference is the default
    np.testing.assert_allclose(out["logits"], logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["features"], features, rtol=1e-4, atol=1e-5)
    assert sorted(params) == sorted([f"conv{s}_{i}" for s in range(1, 5) for i in (1, 2)]
                                    + [f"bn{s}_{i}" for s in range(1, 5) for i in (1, 2)]
                                    + ["fc"])


def test_vgg_training_statistics_momentum_and_he_initialisation(small_vgg):
    model, variables = small_vgg
    images = jnp.asarray(np.random.default_rng(1).normal(size=(4, 48, 48, 1)), jnp.float32)
    _, updates = model.apply(variables, images, train=True, mutable=["batch_stats"],
                             rngs={"dropout": jax.random.key(0)})
    first = jax.lax.conv_general_dilated(images, variables["params"]["conv1_1"]["kernel"], (1, 1),
                                         "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    # Running mean ← 0.9 · 0 + 0.1 · batch mean (Keras' momentum 0.9, not flax's 0.99).
    np.testing.assert_allclose(updates["batch_stats"]["bn1_1"]["mean"],
                               0.1 * jnp.mean(first, axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
    # He-normal kernels: std sqrt(2 / fan_in); conv4_2 has 9 · 128 · 128 weights, fan_in 1152.
    kernel = np.asarray(variables["params"]["conv4_2"]["kernel"])
    np.testing.assert_allclose(kernel.std(), np.sqrt(2.0 / (9 * 128)), rtol=0.03)


def test_vgg_full_width_count_and_bad_multiplier():
    from ferjax.models import vgg
    assert vgg.scaled_widths(vgg.WIDTHS, 1.0) == (64, 128, 256, 512)
    # Rounded, with at least 8 channels per stage.
    assert vgg.scaled_widths(vgg.WIDTHS, 0.1) == (8, 13, 26, 51)
    assert _vgg_parameters(vgg.WIDTHS, 1, 7) == 4_689_735   # the figure in the config docstring
    with pytest.raises(ValueError, match="width_multiplier=0"):
        vgg.scaled_widths(vgg.WIDTHS, 0.0)


def test_onecycle_schedule_and_nesterov_sgd_with_weight_decay_by_hand():
    s = optim.make_schedule({"kind": "onecycle", "lr": 0.1, "pct_start": 0.3,
                             "div_factor": 25.0, "final_div_factor": 1e4}, 100)
    assert float(s(0)) == pytest.approx(0.1 / 25)
    assert float(s(30)) == pytest.approx(0.1)
    assert float(s(100)) == pytest.approx(0.1 / 25 / 1e4, rel=1e-3)
    tx = optim.make_optimizer({"name": "sgd", "momentum": 0.9, "nesterov": True,
                               "weight_decay": 0.5}, optax.constant_schedule(0.1))
    params = {"w": jnp.array(2.0)}
    opt_state = tx.init(params)
    updates, _ = tx.update({"w": jnp.array(1.0)}, opt_state, params)
    # g = 1 + 0.5·2 = 2; momentum buffer m = 2; Nesterov step g + 0.9·m = 3.8; × −lr.
    assert float(updates["w"]) == pytest.approx(-0.38)


def test_mixup_targets_by_hand():
    logits = jnp.array([[2.0, 0.0, -1.0]])
    batch = {"label": jnp.array([0]), "mix_label": jnp.array([2]), "mix_lambda": 0.7}
    loss = loss_lib.get("emotion_ce")({"logits": logits}, batch, label_smoothing=0.3)
    log_p = np.log(np.exp([2.0, 0.0, -1.0]) / np.exp([2.0, 0.0, -1.0]).sum())
    t_a = np.array([0.8, 0.1, 0.1])        # (1 − 0.3)·one_hot(0) + 0.3/3
    t_b = np.array([0.1, 0.1, 0.8])
    expected = -np.sum((0.7 * t_a + 0.3 * t_b) * log_p)
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def _tiny_state(decay):
    params = {"w": jnp.array([1.0, 2.0])}
    state = state_lib.TrainState.create(apply_fn=None, params=params, tx=optax.sgd(1.0),
                                        batch_stats={"mean": jnp.array([0.0])})
    return ema.init(state, decay)


def test_ema_update_by_hand():
    state = _tiny_state(0.99)
    assert ema.init(state, 0.0).ema == {}
    # Step 1 (t = 0): gradient 1 moves w to (0, 1); d = min(0.99, 1/10) = 0.1.
    state = state.apply_gradients(grads={"w": jnp.array([1.0, 1.0])},
                                  batch_stats={"mean": jnp.array([4.0])})
    state = ema.update(state, 0.99)
    np.testing.assert_allclose(state.ema["params"]["w"], [0.1 * 1 + 0.9 * 0, 0.1 * 2 + 0.9 * 1])
    np.testing.assert_allclose(state.ema["batch_stats"]["mean"], [0.9 * 4.0])
    # Step 2 (t = 1): w to (−1, 0); d = 2/11.
    state = ema.update(state.apply_gradients(grads={"w": jnp.array([1.0, 1.0])}), 0.99)
    d = 2 / 11
    np.testing.assert_allclose(state.ema["params"]["w"], [d * 0.1 + (1 - d) * -1.0,
                                                          d * 1.1 + (1 - d) * 0.0], rtol=1e-6)
    assert float(ema.effective_decay(0.99, 10_000)) == pytest.approx(0.99)
    assert ema.eval_variables(state) is state.ema
    with pytest.raises(ValueError, match="config.train.ema_decay=1.0"):
        ema.init(state, 1.0)


def _ema_config(steps):
    c = toy_config(steps=steps)
    c.train.ema_decay = 0.9
    return c


def test_ema_checkpoints_resumes_and_is_what_evaluation_uses(tmp_path):
    straight = loop.train(_ema_config(6), tmp_path / "a")
    loop.train(_ema_config(4), tmp_path / "b")       # "interrupted" at step 4
    resumed = loop.train(_ema_config(6), tmp_path / "b")
    assert resumed.result["confusion"] == straight.result["confusion"]
    a = checkpoint.restore_variables(tmp_path / "a")
    b = checkpoint.restore_variables(tmp_path / "b")
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    # restore_variables (what evaluators and warm starts read) gives the EMA, not the weights.
    manager = checkpoint.make_manager(tmp_path / "a", 2)
    raw = manager.restore(6, args=checkpoint.ocp.args.Composite(
        state=checkpoint.ocp.args.StandardRestore())).state
    manager.close()
    for x, y in zip(jax.tree.leaves(a["params"]), jax.tree.leaves(raw["ema"]["params"])):
        np.testing.assert_array_equal(x, y)
    assert any(not np.allclose(x, y) for x, y in zip(jax.tree.leaves(raw["ema"]["params"]),
                                                     jax.tree.leaves(raw["params"])))


def test_config_budgets_and_arguments():
    cpu = vgg_fer.get_config("data=fer2013,cpu")
    assert cpu.data.name == "fer2013" and cpu.data.builder_kwargs.image_size == 48
    assert tuple(cpu.data.crop_size) == (48, 48) and cpu.data.label_space == "seven"
    assert cpu.train.num_steps == 0 and cpu.train.num_epochs == 16.0
    assert cpu.model.width_multiplier == 0.5 and cpu.train.schedule.lr == pytest.approx(0.05)
    assert cpu.losses.emotion_ce.label_smoothing == 0.1 and cpu.train.ema_decay == 0.999
    assert loop.num_train_steps(cpu.train, 28_709) == 3_589
    gpu = vgg_fer.get_config("data=fer2013,gpu")
    assert (gpu.train.batch_size, gpu.train.num_epochs, gpu.model.width_multiplier) == \
        (256, 60.0, 1.0)
    assert (gpu.train.compute_dtype, gpu.data.placement, gpu.eval.tta) == \
        ("bfloat16", "auto", "flip")
    assert vgg_fer.get_config(None).train.num_epochs == 16.0     # the cpu budget by default
    assert vgg_fer.get_config("epochs=3,width=0.25").model.width_multiplier == 0.25
    with pytest.raises(ValueError, match="cpu and gpu"):
        vgg_fer.get_config("cpu,gpu")
