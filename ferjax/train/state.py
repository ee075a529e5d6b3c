"""Train state: parameters, BatchNorm statistics and optimiser state in one pytree."""

from __future__ import annotations

import re
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state


class TrainState(train_state.TrainState):
    """flax TrainState plus the model's non-trainable collections (BatchNorm statistics) and,
    when config.train.ema_decay > 0, an EMA of both ({"params", "batch_stats"}; ferjax.train.ema;
    {} when off)."""

    batch_stats: Any = flax.struct.field(default_factory=dict)
    ema: Any = flax.struct.field(default_factory=dict)


def init_variables(model, rng: jax.Array, image_shape: tuple[int, ...]) -> dict:
    """Initialises the model on a (1, H, W, C) zero batch; returns all variable collections."""
    params_rng, dropout_rng = jax.random.split(rng)
    # Jitted: an eager init dispatches every op separately, which is slow for deep models.
    init = jax.jit(lambda rngs, x: model.init(rngs, x, train=False))
    return init({"params": params_rng, "dropout": dropout_rng},
                jnp.zeros((1, *image_shape), jnp.float32))


def trainable_mask(params, pattern: str):
    """Boolean pytree: True for parameters whose '/'-joined path matches regex `pattern`."""
    regex = re.compile(pattern)

    def is_trainable(path, _):
        return bool(regex.search("/".join(str(getattr(k, "key", k)) for k in path)))

    return jax.tree_util.tree_map_with_path(is_trainable, params)


def create_train_state(model, variables: dict, tx: optax.GradientTransformation,
                       trainable: str = "") -> TrainState:
    """TrainState from initialised variables; parameters not matching `trainable` are frozen."""
    params = variables["params"]
    if trainable:
        mask = trainable_mask(params, trainable)
        if not any(jax.tree_util.tree_leaves(mask)):
            raise ValueError(f"config.train.trainable={trainable!r} matches no parameter")
        tx = optax.multi_transform({True: tx, False: optax.set_to_zero()}, mask)
    return TrainState.create(apply_fn=model.apply, params=params, tx=tx,
                             batch_stats=variables.get("batch_stats", {}))


def warm_start(state: TrainState, variables: dict) -> TrainState:
    """`state` with params and batch_stats taken from `variables` (same tree and shapes).

    Raises ValueError naming the first parameter whose path or shape differs.
    """
    def take(path, current, stored):
        if np.shape(stored) != np.shape(current):
            raise ValueError(f"config.train.init_from: {jax.tree_util.keystr(path)} has shape "
                             f"{np.shape(stored)} in the checkpoint, {np.shape(current)} here")
        return jnp.asarray(stored, current.dtype)

    def merge(current, stored, collection):
        try:
            return jax.tree_util.tree_map_with_path(take, current, stored)
        except ValueError as error:
            if "init_from" in str(error):
                raise
            raise ValueError(f"config.train.init_from: the checkpoint's {collection} tree differs "
                             f"from this model's ({error})") from None

    return state.replace(params=merge(state.params, variables["params"], "params"),
                         batch_stats=merge(state.batch_stats, variables["batch_stats"],
                                           "batch_stats"))


def parameter_overview(params) -> str:
    """A table of parameter counts per top-level module and the total."""
    rows = []
    for name, subtree in params.items():
        leaves = jax.tree_util.tree_leaves(subtree)
        rows.append((name, sum(int(np.prod(x.shape)) for x in leaves)))
    total = sum(n for _, n in rows)
    width = max([len(n) for n, _ in rows] + [5])
    lines = [f"{'module'.ljust(width)}  parameters"]
    lines += [f"{n.ljust(width)}  {c:>10,d}" for n, c in rows]
    lines.append(f"{'total'.ljust(width)}  {total:>10,d}")
    return "\n".join(lines)
