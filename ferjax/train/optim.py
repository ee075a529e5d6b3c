"""Optimisers and learning-rate schedules built from config (optax)."""

from __future__ import annotations

from typing import Any, Mapping

import jax.numpy as jnp
import optax


def triangular_cyclical_schedule(low: float, high: float, half_cycle: int) -> optax.Schedule:
    """Triangular cyclical learning rate (Smith 2017), as EmotionalDAN's code uses.

    lr(g) = low + (high - low) · max(0, 1 - |g / half_cycle - 2·floor(1 + g / (2·half_cycle)) + 1|)
    starting at `low` and peaking at `high` after `half_cycle` steps. optax has no triangular
    cyclical schedule; this one line is the formula itself.
    """
    if half_cycle <= 0:
        raise ValueError(f"config.train.schedule.half_cycle must be > 0, got {half_cycle}")

    def schedule(step):
        g = jnp.asarray(step, jnp.float32)
        cycle = jnp.floor(1.0 + g / (2.0 * half_cycle))
        x = jnp.abs(g / half_cycle - 2.0 * cycle + 1.0)
        return low + (high - low) * jnp.maximum(0.0, 1.0 - x)

    return schedule


def make_schedule(cfg: Mapping[str, Any], num_steps: int) -> optax.Schedule:
    """Learning-rate schedule from config.train.schedule.

    kinds: "constant" (lr), "cosine" (lr, warmup_steps, decayed to lr·final_fraction),
    "triangular" (low, high, half_cycle), "onecycle" (Smith & Topin 2019 as optax's
    cosine_onecycle_schedule: from lr/div_factor up to the peak lr over pct_start of the run,
    then cosine down to lr/(div_factor·final_div_factor)).
    """
    kind = cfg["kind"]
    if kind == "constant":
        return optax.constant_schedule(cfg["lr"])
    if kind == "cosine":
        warmup = int(cfg.get("warmup_steps", 0))
        return optax.warmup_cosine_decay_schedule(
            init_value=0.0 if warmup else cfg["lr"], peak_value=cfg["lr"], warmup_steps=warmup,
            decay_steps=max(num_steps, warmup + 1), end_value=cfg["lr"] * cfg.get(
                "final_fraction", 0.0))
    if kind == "triangular":
        return triangular_cyclical_schedule(cfg["low"], cfg["high"], int(cfg["half_cycle"]))
    if kind == "onecycle":
        return optax.cosine_onecycle_schedule(
            transition_steps=max(num_steps, 1), peak_value=cfg["lr"],
            pct_start=cfg.get("pct_start", 0.3), div_factor=cfg.get("div_factor", 25.0),
            final_div_factor=cfg.get("final_div_factor", 1e4))
    raise ValueError(f"config.train.schedule.kind={kind!r}; expected 'constant', 'cosine', "
                     "'triangular' or 'onecycle'")


def make_optimizer(cfg: Mapping[str, Any], schedule: optax.Schedule) -> optax.GradientTransformation:
    """Optimiser from config.train.optimizer: name "adam" | "adamw" | "sgd" (+ options).

    sgd takes momentum, nesterov and weight_decay; its weight decay is the L2 term added to the
    gradient before momentum (PyTorch's SGD(weight_decay=...), which the FER papers used).
    """
    name = cfg["name"]
    if name == "adam":
        opt = optax.adam(schedule, b1=cfg.get("b1", 0.9), b2=cfg.get("b2", 0.999),
                         eps=cfg.get("eps", 1e-8))
    elif name == "amsgrad":
        opt = optax.amsgrad(schedule)
    elif name == "adamw":
        opt = optax.adamw(schedule, weight_decay=cfg.get("weight_decay", 1e-4))
    elif name == "sgd":
        opt = optax.sgd(schedule, momentum=cfg.get("momentum") or None,
                        nesterov=bool(cfg.get("nesterov", False)))
        if cfg.get("weight_decay", 0.0):
            opt = optax.chain(optax.add_decayed_weights(cfg["weight_decay"]), opt)
    else:
        raise ValueError(f"config.train.optimizer.name={name!r}; expected 'adam', 'amsgrad', "
                         "'adamw' or 'sgd'")
    clip = cfg.get("grad_clip_norm", 0.0)
    return optax.chain(optax.clip_by_global_norm(clip), opt) if clip else opt
