"""Classification loss terms."""

from __future__ import annotations

from typing import Any, Mapping

import jax.numpy as jnp
import optax


def _example_weights(batch: Mapping[str, Any], n: int) -> jnp.ndarray:
    # Padded examples (weight 0) fill the last partial eval batch; they must not count.
    return batch.get("weight", jnp.ones((n,), jnp.float32))


def emotion_cross_entropy(outputs: Mapping[str, Any], batch: Mapping[str, Any], *,
                          label_smoothing: float = 0.0) -> jnp.ndarray:
    """Softmax cross-entropy of outputs["logits"] (B, K) against batch["label"] (B,) int.

    Averaged over examples with non-zero batch["weight"] (all when absent); in nats.
    """
    logits = outputs["logits"]
    num_classes = logits.shape[-1]
    targets = optax.smooth_labels(jax_one_hot(batch["label"], num_classes), label_smoothing) \
        if label_smoothing else jax_one_hot(batch["label"], num_classes)
    per_example = optax.softmax_cross_entropy(logits.astype(jnp.float32), targets)
    weights = _example_weights(batch, logits.shape[0])
    return jnp.sum(per_example * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def jax_one_hot(labels: jnp.ndarray, num_classes: int) -> jnp.ndarray:
    return (labels[..., None] == jnp.arange(num_classes)).astype(jnp.float32)
