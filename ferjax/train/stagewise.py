"""Stage-wise training of multi-stage models (EmotionalDAN): which stage trains, how.

DAN and EmotionalDAN train stage 1 on the landmark loss (Adam, lr 1e-3), then add stage t with
stages < t frozen — parameters untouched, BatchNorm statistics frozen, dropout off — and train
it with SGD under the triangular cyclical learning rate (1e-4 .. 0.05, half cycle 10k steps).
Optionally all stages are fine-tuned together afterwards.

The freezing is done twice, on purpose: the model runs frozen stages in inference mode under
stop_gradient (so their BN statistics are not updated and no gradient reaches them), and the
optimizer masks their parameters with optax.set_to_zero (so weight decay or optimizer state can
never move them either).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import optax

TRAIN, FREEZE = "train", "freeze"


def stage_name(stage: int) -> str:
    """Top-level parameter collection key of 1-based `stage` ("stage_1", ...)."""
    return f"stage_{stage}"


def stage_labels(params: Mapping[str, Any], trainable: Callable[[int], bool]):
    """optax.multi_transform labels: TRAIN for leaves of stages s with trainable(s), else FREEZE.

    Raises ValueError naming a top-level key that is not "stage_<n>".
    """
    labels = {}
    for key, subtree in params.items():
        if not key.startswith("stage_") or not key[6:].isdigit():
            raise ValueError(f"parameter {key!r} is not under a 'stage_<n>' collection; "
                             f"stage-wise training cannot tell which stage owns it")
        label = TRAIN if trainable(int(key[6:])) else FREEZE
        labels[key] = jax.tree.map(lambda _: label, subtree)
    return labels


def stage_optimizer(params: Mapping[str, Any], optimizer: optax.GradientTransformation,
                    stage: int, fine_tune_all: bool = False) -> optax.GradientTransformation:
    """`optimizer` on the parameters of `stage` (or of all stages ≤ stage), zero updates elsewhere."""
    trainable = (lambda s: s <= stage) if fine_tune_all else (lambda s: s == stage)
    return optax.multi_transform({TRAIN: optimizer, FREEZE: optax.set_to_zero()},
                                 stage_labels(params, trainable))


def triangular_cyclical_lr(base_lr: float, max_lr: float, half_cycle: int) -> optax.Schedule:
    """Smith's triangular cyclical learning rate as an optax schedule.

    lr(g) = base + (max − base)·max(0, 1 − |g/h − 2·floor(1 + g/(2h)) + 1|): linear from base up
    to max over h steps, back down over h, repeating. optax 0.2.8 has no cyclical schedule and
    join_schedules needs a finite list of boundaries, so the closed form is written here.
    """
    if not 0 < base_lr <= max_lr:
        raise ValueError(f"need 0 < base_lr <= max_lr; got {base_lr}, {max_lr}")
    if half_cycle < 1:
        raise ValueError(f"half_cycle={half_cycle}; must be at least 1 step")

    def schedule(step):
        g = jnp.asarray(step, jnp.float32)
        x = jnp.abs(g / half_cycle - 2.0 * jnp.floor(1.0 + g / (2.0 * half_cycle)) + 1.0)
        return base_lr + (max_lr - base_lr) * jnp.maximum(0.0, 1.0 - x)

    return schedule


@dataclasses.dataclass(frozen=True)
class StagePhase:
    """One phase of the schedule: stage `stage` trains; model and optimizer settings for it."""
    stage: int
    steps: int
    optimizer: str  # "adam" | "sgd_clr"
    losses: Mapping[str, Mapping[str, Any]]
    fine_tune_all: bool = False

    def model_overrides(self) -> dict[str, int]:
        """config.model fields: run stages 1..stage, freeze the earlier ones unless fine-tuning."""
        return {"active_stages": self.stage,
                "frozen_stages": 0 if self.fine_tune_all else self.stage - 1}


def phase_optimizer(phase: StagePhase, params: Mapping[str, Any], *, adam_lr: float = 1e-3,
                    clr_base: float = 1e-4, clr_max: float = 0.05,
                    clr_half_cycle: int = 10_000) -> optax.GradientTransformation:
    """The optimizer the authors used for a phase, masked to the phase's trainable stages."""
    if phase.optimizer == "adam":
        inner = optax.adam(adam_lr)
    elif phase.optimizer == "sgd_clr":
        inner = optax.sgd(triangular_cyclical_lr(clr_base, clr_max, clr_half_cycle))
    else:
        raise ValueError(f"phase optimizer {phase.optimizer!r}; choose 'adam' or 'sgd_clr'")
    return stage_optimizer(params, inner, phase.stage, phase.fine_tune_all)
