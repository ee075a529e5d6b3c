"""A model's outputs over a whole record source, gathered on the host for analysis."""

from __future__ import annotations

from typing import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from ferjax.data import pipeline


def collect_outputs(apply_fn: Callable, source, transform, keys: Sequence[str], *,
                    batch_size: int = 64, batch_keys: Sequence[str] = ("label", "mask"),
                    perturb: Callable[[np.ndarray], np.ndarray] | None = None) -> dict:
    """Runs `apply_fn(images) -> output dict` over every record of `source`.

    Args:
      apply_fn: normalised float32 (B, H, W, C) images -> the model's output dict; pass a
        jitted function and reuse it (every new jax.jit compiles again).
      transform: the eval transform (crop + normalise), e.g. pipeline.EvalTransform.
      keys: outputs to keep (those the model does not return are skipped).
      batch_keys: batch fields to keep alongside (label, mask, ... where present).
      perturb: applied to each normalised image batch before the model (e.g. added noise).
    Returns:
      {key: array (N, ...)} over the N real records (padding dropped), outputs and batch fields.
    """
    out: dict[str, list] = {k: [] for k in (*keys, *batch_keys, "weight")}
    for batch in pipeline.eval_batches(source, transform, local_batch_size=batch_size):
        images = batch["image"] if perturb is None else perturb(batch["image"])
        result = apply_fn(jnp.asarray(images))
        for k in keys:
            if k in result:
                out[k].append(np.asarray(result[k]))
        for k in (*batch_keys, "weight"):
            if k in batch:
                out[k].append(np.asarray(batch[k]))
    merged = {k: np.concatenate(v) for k, v in out.items() if v}
    real = merged.pop("weight") > 0
    return {k: v[real] for k, v in merged.items()}
