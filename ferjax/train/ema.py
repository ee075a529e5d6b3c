"""Exponential moving average (EMA) of the model's variables, kept in the TrainState.

Polyak averaging of the weights (Polyak & Juditsky 1992; the "model EMA" of modern image
classifiers, e.g. timm's ModelEmaV2 and big_vision): after every optimiser step
    ema ← d_t · ema + (1 − d_t) · variables,   d_t = min(decay, (1 + t) / (10 + t))
over params *and* BatchNorm statistics (as timm averages buffers), with t the optimiser step.
The warm-up of d_t (TensorFlow's ExponentialMovingAverage with num_updates) lets the average
follow the fast early changes, so a short run's EMA is not dominated by its initialisation.

Why a TrainState field and not an optax wrapper: the EMA is of the variables, not of updates,
and includes BatchNorm statistics, which optax never sees; as a field it is checkpointed and
restored with the state, with no change to the checkpoint format, and evaluation reads it
directly (`eval_variables`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def init(state, decay: float):
    """`state` with its EMA started at the current variables (decay > 0), or none (decay 0)."""
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"config.train.ema_decay={decay}; expected 0 (off) or a value in (0, 1)")
    if decay == 0.0:
        return state.replace(ema={})
    return state.replace(ema=jax.tree.map(jnp.array, {"params": state.params,
                                                      "batch_stats": state.batch_stats}))


def effective_decay(decay: float, step) -> jnp.ndarray:
    """d_t = min(decay, (1 + t) / (10 + t)) for optimiser step t (an int or int array)."""
    t = jnp.asarray(step, jnp.float32)
    return jnp.minimum(decay, (1.0 + t) / (10.0 + t))


def update(state, decay: float):
    """`state` with its EMA moved towards its current variables (unchanged when EMA is off).

    Call after the optimiser step; `state.step` is then the number of steps taken (t + 1).
    """
    if not state.ema:
        return state
    d = effective_decay(decay, state.step - 1)
    current = {"params": state.params, "batch_stats": state.batch_stats}
    return state.replace(ema=jax.tree.map(lambda e, v: d * e + (1.0 - d) * v, state.ema, current))


def eval_variables(state) -> dict:
    """{"params", "batch_stats"} to evaluate: the EMA when the state keeps one (a state type
    without the field has none)."""
    ema = getattr(state, "ema", None)
    if ema:
        return ema
    return {"params": state.params, "batch_stats": state.batch_stats}
