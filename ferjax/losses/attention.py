"""FERAtt's attention reconstruction loss: the attention image against the face-only target."""

from __future__ import annotations

from typing import Any, Mapping

import jax.numpy as jnp

KINDS = ("mse", "tanh")


def attention_reconstruction(outputs: Mapping[str, Any], batch: Mapping[str, Any], *,
                             kind: str = "mse", tanh_scale: float = 5.0,
                             tanh_slope: float = 3.0) -> jnp.ndarray:
    """Distance between outputs["attention_image"] (B, H, W, 3) and batch["face"] (B, H, W, C).

    batch["face"] is the face on a black background (I ⊗ mask) under the input's geometric
    transform but without its illumination change. A 1-channel face is compared with each of
    the 3 attention channels (grey images are replicated to 3 channels, as the code does).

    kind="mse" (paper): per-pixel squared error averaged over H, W, channels.
    kind="tanh" (the code's later loss): tanh_scale · mean(tanh(tanh_slope · |d|)), which caps
      each pixel's contribution so a few badly wrong pixels cannot dominate.
    Averaged over examples with non-zero batch["weight"]; in squared (or tanh) image units.
    """
    if kind not in KINDS:
        raise ValueError(f"attention_reconstruction: kind={kind!r}; choose one of {KINDS}")
    if "attention_image" not in outputs:
        raise ValueError("attention_reconstruction needs outputs['attention_image']: the model "
                         "(e.g. a FERAtt variant other than 'baseline') must produce it")
    if "face" not in batch:
        raise ValueError("attention_reconstruction needs batch['face'] (face-only target image)")
    prediction = outputs["attention_image"].astype(jnp.float32)
    target = batch["face"].astype(jnp.float32)
    if target.shape[:3] != prediction.shape[:3] or target.shape[-1] not in (1, prediction.shape[-1]):
        raise ValueError(f"attention_reconstruction: batch['face'] has shape {target.shape}, "
                         f"outputs['attention_image'] has {prediction.shape}")
    diff = prediction - target
    if kind == "mse":
        per_example = jnp.mean(jnp.square(diff), axis=(1, 2, 3))
    else:
        per_example = tanh_scale * jnp.mean(jnp.tanh(tanh_slope * jnp.abs(diff)), axis=(1, 2, 3))
    weights = batch.get("weight", jnp.ones(per_example.shape, jnp.float32))
    return jnp.sum(per_example * weights) / jnp.maximum(jnp.sum(weights), 1.0)
