"""The trainer's eval step under test-time augmentation (ferjax.evaluation.tta)."""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp

from ferjax.evaluation import tta
from ferjax.train import steps


def eval_step(state, batch: dict, *, loss_terms: Mapping[str, Mapping], **step_options):
    """steps.eval_step on the centre crop (losses, labels, weights; step_options passed on),
    with the prediction the argmax of the probabilities averaged over batch["views"]
    (B, V, h, w, C), computed with the same weights and compute dtype as the eval step."""
    result = steps.eval_step(state, {k: v for k, v in batch.items() if k != "views"},
                             loss_terms=loss_terms, **step_options)
    dtype = step_options.get("compute_dtype", jnp.float32)
    probabilities = tta.view_probabilities(
        lambda x: steps.eval_forward(state, x, dtype), batch["views"])
    result["prediction"] = jnp.argmax(probabilities, -1)
    return result


def eval_step_fn(mode: str):
    """The eval step of config.eval.tta=`mode`: steps.eval_step for "none", else eval_step."""
    return steps.eval_step if mode == "none" else eval_step
