"""train_step / eval_step against an optimiser step and metrics computed by hand on a tiny model.

The model is small enough to compile in well under a second, so these tests pin what the train
step does to the state (gradient, BatchNorm statistics, EMA, the non-finite guard), which keys it
derives from the step, and what eval_step reports, independently of any paper's model.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ferjax import losses as loss_lib
from ferjax.data import batch_augment as batch_augment_lib
from ferjax.train import ema as ema_lib
from ferjax.train import state as state_lib
from ferjax.train import steps

CE = {"emotion_ce": {"weight": 2.0}}


class Tiny(nn.Module):
    """Dense → BatchNorm → Dropout → Dense; outputs logits and the pre-classifier embedding.

    Its default mode is training, so evaluation must ask for inference mode itself."""
    dropout: float = 0.0
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = True):
        h = nn.Dense(4)(x.reshape((x.shape[0], -1)))
        h = nn.BatchNorm(use_running_average=not train, momentum=0.5)(h)
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        return {"logits": nn.Dense(self.num_classes)(h), "embedding": h}


class SqrtAtZero(nn.Module):
    """logits = sqrt(|w|)·x with w = 0: a finite loss whose gradient is not finite."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        w = self.param("w", nn.initializers.zeros, (1,))
        return {"logits": jnp.sqrt(jnp.abs(w)) * x.reshape((x.shape[0], -1))[:, :3]}


def make_state(model, learning_rate=0.1, ema_decay=0.0):
    variables = state_lib.init_variables(model, jax.random.key(0), (2, 2, 1))
    state = state_lib.create_train_state(model, variables, optax.sgd(learning_rate))
    return ema_lib.init(state, ema_decay)


def make_batch(n=4):
    image = jnp.asarray(np.random.default_rng(0).normal(size=(n, 2, 2, 1)), jnp.float32)
    return {"image": image, "label": jnp.asarray([0, 1, 2, 1][:n]),
            "weight": jnp.asarray([1.0, 0.0, 2.0, 1.0][:n])}


def weighted_ce(logits, batch):
    per = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
    return jnp.sum(per * batch["weight"]) / jnp.sum(batch["weight"])


def assert_trees_equal(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_train_step_is_one_optimiser_step_on_the_weighted_loss():
    model, batch = Tiny(), make_batch()
    state = make_state(model)
    # Stored statistics unlike a fresh init's, so the step must pass the state's own.
    state = state.replace(batch_stats=jax.tree.map(lambda v: v + 0.5, state.batch_stats))

    def reference_loss(params):
        outputs, updates = model.apply({"params": params, "batch_stats": state.batch_stats},
                                       batch["image"], train=True, mutable=["batch_stats"])
        return 2.0 * weighted_ce(outputs["logits"], batch), (outputs, updates)

    (loss, (outputs, updates)), grads = jax.value_and_grad(reference_loss, has_aux=True)(
        state.params)
    new_state, metrics = jax.jit(lambda s, b: steps.train_step(s, b, jax.random.key(1),
                                                               loss_terms=CE))(state, batch)

    expected_params = jax.tree.map(lambda p, g: p - 0.1 * g, state.params, grads)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                 new_state.params, expected_params)
    # BatchNorm statistics are the forward pass's updates (momentum 0.5), not the old ones.
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6),
                 new_state.batch_stats, updates["batch_stats"])
    assert not np.allclose(new_state.batch_stats["BatchNorm_0"]["mean"],
                           state.batch_stats["BatchNorm_0"]["mean"])
    assert int(new_state.step) == 1
    np.testing.assert_allclose(metrics["loss"], loss, rtol=1e-6)
    np.testing.assert_allclose(metrics["loss/emotion_ce"], loss / 2.0, rtol=1e-6)
    assert float(metrics["finite"]) == 1.0
    correct = np.argmax(outputs["logits"], -1) == np.asarray(batch["label"])
    np.testing.assert_allclose(metrics["accuracy"],
                               np.sum(correct * np.asarray(batch["weight"])) / 4.0, rtol=1e-6)
    assert set(metrics) == {"loss", "loss/emotion_ce", "finite", "accuracy"}


def test_weighted_accuracy_by_hand():
    logits = jnp.asarray([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 1.0, 5.0], [4.0, 0.0, 1.0]])
    batch = {"label": jnp.asarray([0, 2, 2, 1]), "weight": jnp.asarray([1.0, 3.0, 2.0, 0.0])}
    # correct: rows 0 and 2 (weights 1 and 2) of a total weight 6.
    np.testing.assert_allclose(steps.weighted_accuracy(logits, batch), 3.0 / 6.0)
    unweighted = {"label": batch["label"]}
    np.testing.assert_allclose(steps.weighted_accuracy(logits, unweighted), 2.0 / 4.0)
    # An all-padding batch scores 0, not 0/0.
    padding = {**batch, "weight": jnp.zeros(4)}
    assert float(steps.weighted_accuracy(logits, padding)) == 0.0
    # Fractional weights below 1 in total are divided by 1 (the guard), not by their sum.
    light = {"label": batch["label"], "weight": jnp.asarray([0.25, 0.0, 0.25, 0.0])}
    np.testing.assert_allclose(steps.weighted_accuracy(logits, light), 0.5)


@pytest.mark.parametrize("case", ["nan_image", "infinite_gradient"])
def test_a_non_finite_step_leaves_the_state_bit_identical(case):
    if case == "nan_image":
        model, batch = Tiny(), make_batch()
        batch = {**batch, "image": batch["image"].at[0, 0, 0, 0].set(jnp.nan)}
    else:
        model = SqrtAtZero()
        batch = make_batch()
    state = make_state(model, ema_decay=0.5)
    new_state, metrics = steps.train_step(state, batch, jax.random.key(1), loss_terms=CE,
                                          ema_decay=0.5)
    if case == "infinite_gradient":
        # The loss itself is finite: only the gradient check can catch this step.
        assert np.isfinite(float(metrics["loss"]))
    assert float(metrics["finite"]) == 0.0
    assert_trees_equal(new_state, state)


def test_the_ema_moves_towards_the_new_variables_with_its_warm_up_decay():
    model, batch = Tiny(), make_batch()
    state = make_state(model, ema_decay=0.9)
    new_state, _ = steps.train_step(state, batch, jax.random.key(1), loss_terms=CE,
                                    ema_decay=0.9)
    d = min(0.9, 1.0 / 10.0)  # first step: t = 0
    current = {"params": new_state.params, "batch_stats": new_state.batch_stats}
    expected = jax.tree.map(lambda e, v: d * e + (1 - d) * v, state.ema, current)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), new_state.ema,
                 expected)
    without = steps.train_step(state.replace(ema={}), batch, jax.random.key(1),
                               loss_terms=CE)[0]
    assert without.ema == {}


def test_dropout_and_loss_keys_come_from_the_step_number():
    model, batch = Tiny(dropout=0.5), make_batch()
    state = make_state(model)
    rng = jax.random.key(7)
    seen, emotion_ce = {}, loss_lib.get("emotion_ce")

    def recording_ce(outputs, batch):
        seen["rng"], seen["step"] = batch["rng"], batch["step"]
        return emotion_ce(outputs, batch)

    def loss_with_dropout_key(state, key):
        outputs, _ = model.apply({"params": state.params, "batch_stats": state.batch_stats},
                                 batch["image"], train=True, rngs={"dropout": key},
                                 mutable=["batch_stats"])
        return weighted_ce(outputs["logits"], batch)

    for step in (0, 5):
        at_step = state.replace(step=jnp.asarray(step))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(loss_lib, "get", lambda name: recording_ce)
            _, metrics = steps.train_step(at_step, batch, rng, loss_terms={"ce": {}})
        dropout_key, loss_key = jax.random.split(jax.random.fold_in(rng, step))
        np.testing.assert_allclose(metrics["loss"], loss_with_dropout_key(at_step, dropout_key),
                                   rtol=1e-6)
        np.testing.assert_array_equal(jax.random.key_data(seen["rng"]),
                                      jax.random.key_data(loss_key))
        assert int(seen["step"]) == step
    assert not np.isclose(loss_with_dropout_key(state, jax.random.split(
        jax.random.fold_in(rng, 0))[0]), loss_with_dropout_key(state, jax.random.split(
            jax.random.fold_in(rng, 5))[0]))


def test_batch_augment_runs_inside_the_step_on_its_own_key():
    model, batch = Tiny(), make_batch()
    state = make_state(model).replace(step=jnp.asarray(3))
    rng = jax.random.key(2)
    options = {"erasing": 1.0}
    augmented = batch_augment_lib.apply(batch, jax.random.fold_in(jax.random.fold_in(rng, 3), 1),
                                        options)
    assert not np.array_equal(augmented["image"], batch["image"])
    inside = steps.train_step(state, batch, rng, loss_terms=CE, batch_augment=options)
    outside = steps.train_step(state, augmented, rng, loss_terms=CE)
    assert_trees_equal(inside, outside)


def test_bfloat16_compute_returns_float32_metrics_and_state():
    model, batch = Tiny(), make_batch()
    state = make_state(model)
    new_state, metrics = steps.train_step(state, batch, jax.random.key(1), loss_terms=CE,
                                          compute_dtype=jnp.bfloat16)
    assert all(v.dtype == jnp.float32 for v in metrics.values())
    assert all(x.dtype == jnp.float32 for x in jax.tree_util.tree_leaves(new_state.params))
    # Exactly the training forward with bfloat16 weights and image, losses in float32.
    bf16_params = jax.tree.map(lambda p: p.astype(jnp.bfloat16), state.params)
    train_logits = model.apply({"params": bf16_params, "batch_stats": state.batch_stats},
                               batch["image"].astype(jnp.bfloat16), train=True,
                               mutable=["batch_stats"])[0]["logits"]
    np.testing.assert_allclose(metrics["loss"],
                               2.0 * weighted_ce(train_logits.astype(jnp.float32), batch),
                               rtol=1e-6)
    f32 = steps.train_step(state, batch, jax.random.key(1), loss_terms=CE)[1]
    np.testing.assert_allclose(metrics["loss"], f32["loss"], rtol=0.05)
    assert float(metrics["loss"]) != float(f32["loss"])  # the forward really ran in bfloat16
    outputs = steps.eval_forward(state, batch["image"], jnp.bfloat16)
    assert outputs["logits"].dtype == jnp.float32
    # Exactly the forward pass with bfloat16 weights and image (statistics as stored).
    bf16_params = jax.tree.map(lambda p: p.astype(jnp.bfloat16), state.params)
    reference = model.apply({"params": bf16_params, "batch_stats": state.batch_stats},
                            batch["image"].astype(jnp.bfloat16), train=False)["logits"]
    np.testing.assert_array_equal(outputs["logits"], reference.astype(jnp.float32))
    evaluated = steps.eval_step(state, batch, loss_terms=CE, compute_dtype=jnp.bfloat16)
    np.testing.assert_allclose(evaluated["loss_sum/emotion_ce"],
                               4.0 * weighted_ce(reference.astype(jnp.float32), batch),
                               rtol=1e-6)


def test_eval_step_reports_predictions_and_weighted_loss_sums():
    model, batch = Tiny(), make_batch()
    state = make_state(model)
    result = steps.eval_step(state, batch, loss_terms=CE)
    logits = model.apply({"params": state.params, "batch_stats": state.batch_stats},
                         batch["image"], train=False)["logits"]
    np.testing.assert_array_equal(result["prediction"], np.argmax(logits, -1))
    np.testing.assert_array_equal(result["label"], batch["label"])
    np.testing.assert_array_equal(result["weight"], batch["weight"])
    ce = weighted_ce(logits, batch)
    # Sums over the weighted examples (total weight 4), so batches pool exactly.
    np.testing.assert_allclose(result["loss_sum/emotion_ce"], 4.0 * ce, rtol=1e-6)
    np.testing.assert_allclose(result["loss_sum"], 4.0 * 2.0 * ce, rtol=1e-6)
    assert set(result) == {"weight", "prediction", "label", "loss_sum", "loss_sum/emotion_ce"}
    assert set(steps.eval_step(state, batch, loss_terms={})) == {"weight", "prediction", "label"}


def test_evaluation_uses_the_ema_variables_when_the_state_keeps_them():
    model, batch = Tiny(), make_batch()
    state = make_state(model, ema_decay=0.9)
    shifted = jax.tree.map(lambda x: x + 0.5, state.ema)
    with_ema = state.replace(ema=shifted)
    expected = model.apply(shifted, batch["image"], train=False)["logits"]
    np.testing.assert_allclose(steps.eval_forward(with_ema, batch["image"])["logits"], expected,
                               rtol=1e-6)
    result = steps.eval_step(with_ema, batch, loss_terms={})
    np.testing.assert_array_equal(result["prediction"], np.argmax(expected, -1))
    raw = model.apply({"params": state.params, "batch_stats": state.batch_stats},
                      batch["image"], train=False)["logits"]
    assert not np.allclose(expected, raw)


def test_accuracy_is_reported_only_when_the_batch_has_labels(monkeypatch):
    model = Tiny()
    batch = make_batch()
    state = make_state(model)
    monkeypatch.setattr(loss_lib, "get", lambda name: lambda outputs, batch: jnp.mean(
        jnp.square(outputs["logits"])))
    unlabelled = {"image": batch["image"], "weight": batch["weight"]}
    _, metrics = steps.train_step(state, unlabelled, jax.random.key(1), loss_terms={"l2": {}})
    assert set(metrics) == {"loss", "loss/l2", "finite"}


def test_a_model_without_batch_norm_keeps_an_empty_statistics_collection():
    model, batch = SqrtAtZero(), make_batch()
    state = make_state(model).replace(params={"w": jnp.ones((1,))})
    new_state, metrics = steps.train_step(state, batch, jax.random.key(1), loss_terms=CE)
    assert float(metrics["finite"]) == 1.0
    assert new_state.batch_stats == {}
