"""Pure train and eval steps, jitted by the loop with data-parallel shardings."""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp

from ferjax import losses as loss_lib
from ferjax.data import batch_augment as batch_augment_lib
from ferjax.train import ema as ema_lib
from ferjax.train.precision import cast_floats


def _variables(state, params):
    return {"params": params, "batch_stats": state.batch_stats}


def _train_forward(state, params, image, compute_dtype, dropout_rng):
    """Training-mode apply_fn with params and image in compute_dtype.

    Returns (floating outputs in float32, {"batch_stats": updates}); BatchNorm statistics are
    passed as stored (float32) and so are their updates.
    """
    outputs, updates = state.apply_fn(_variables(state, cast_floats(params, compute_dtype)),
                                      image.astype(compute_dtype), train=True,
                                      rngs={"dropout": dropout_rng}, mutable=["batch_stats"])
    return cast_floats(outputs, jnp.float32), updates


def eval_forward(state, image, compute_dtype=jnp.float32):
    """Inference-mode outputs (float32) of the weights a run is evaluated with: the EMA of the
    variables when the state keeps one (ferjax.train.ema), else its params and statistics."""
    variables = ema_lib.eval_variables(state)
    result = state.apply_fn({**variables, "params": cast_floats(variables["params"],
                                                                compute_dtype)},
                            image.astype(compute_dtype), train=False)
    return cast_floats(result, jnp.float32)


def weighted_accuracy(logits: jnp.ndarray, batch: Mapping[str, Any]) -> jnp.ndarray:
    weights = batch.get("weight", jnp.ones(logits.shape[:1]))
    correct = (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32)
    return jnp.sum(correct * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def _all_finite(tree) -> jnp.ndarray:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def train_step(state, batch: dict, rng: jax.Array, *, loss_terms: Mapping[str, Mapping],
               compute_dtype=jnp.float32, batch_augment: Mapping[str, Any] | None = None,
               ema_decay: float = 0.0):
    """One optimiser step on a global batch.

    The forward and backward passes run in compute_dtype (ferjax.train.precision); the state
    and the losses stay float32. `batch_augment` (config.data.batch_augment) transforms the
    batch inside the step (ferjax.data.batch_augment); `ema_decay` > 0 updates the state's EMA
    of the variables (ferjax.train.ema).

    A step whose loss or gradients are not finite leaves the state untouched and reports
    metrics["finite"] = 0, so the state is always the last good one when the loop stops.
    batch gains "rng" (a per-step key) for loss terms that sample (e.g. embedding mixup) and
    "step" (the step number) for terms that change over training.
    Returns (new_state, metrics of scalars).
    """
    step_rng = jax.random.fold_in(rng, state.step)
    dropout_rng, loss_rng = jax.random.split(step_rng)
    if batch_augment:
        batch = batch_augment_lib.apply(batch, jax.random.fold_in(step_rng, 1), batch_augment)

    def loss_fn(params):
        outputs, updates = _train_forward(state, params, batch["image"], compute_dtype,
                                          dropout_rng)
        total, parts = loss_lib.total_loss(outputs, {**batch, "rng": loss_rng, "step": state.step},
                                           loss_terms)
        return total, (outputs, updates, parts)

    (loss, (outputs, updates, parts)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params)
    new_state = state.apply_gradients(grads=grads,
                                      batch_stats=updates.get("batch_stats", state.batch_stats))
    new_state = ema_lib.update(new_state, ema_decay)
    finite = jnp.isfinite(loss) & _all_finite(grads)
    new_state = jax.tree_util.tree_map(lambda new, old: jnp.where(finite, new, old),
                                       new_state, state)
    metrics = {"loss": loss, "finite": finite.astype(jnp.float32),
               **{f"loss/{k}": v for k, v in parts.items()}}
    if "logits" in outputs and "label" in batch:
        metrics["accuracy"] = weighted_accuracy(outputs["logits"], batch)
    return new_state, metrics


def eval_step(state, batch: dict, *, loss_terms: Mapping[str, Mapping],
              compute_dtype=jnp.float32):
    """Forward pass in inference mode (in compute_dtype) on a global batch.

    Returns per-example arrays (predictions, labels, weights) and the batch's summed loss terms
    so the loop can aggregate exact metrics over an evaluation set.
    """
    outputs = eval_forward(state, batch["image"], compute_dtype)
    weights = batch["weight"]
    result = {"weight": weights}
    if "logits" in outputs:
        result["prediction"] = jnp.argmax(outputs["logits"], -1)
        result["label"] = batch["label"]
    if loss_terms:
        total, parts = loss_lib.total_loss(outputs, batch, loss_terms)
        # total_loss averages over weighted examples; scale back to a sum for exact pooling.
        n = jnp.sum(weights)
        result["loss_sum"] = total * n
        for k, v in parts.items():
            result[f"loss_sum/{k}"] = v * n
    return result
