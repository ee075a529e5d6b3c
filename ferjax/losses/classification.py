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
    label_smoothing ε: targets (1 − ε)·one_hot + ε/K (Szegedy et al. 2016).
    A mixup batch (ferjax.data.batch_augment) carries "mix_label" (B,) and "mix_lambda" λ:
    the targets are λ·t(label) + (1 − λ)·t(mix_label).
    """
    logits = outputs["logits"]
    num_classes = logits.shape[-1]
    targets = _targets(batch["label"], num_classes, label_smoothing)
    if "mix_label" in batch:
        lam = batch["mix_lambda"]
        targets = lam * targets + (1.0 - lam) * _targets(batch["mix_label"], num_classes,
                                                         label_smoothing)
    per_example = optax.softmax_cross_entropy(logits.astype(jnp.float32), targets)
    weights = _example_weights(batch, logits.shape[0])
    return jnp.sum(per_example * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def _targets(labels: jnp.ndarray, num_classes: int, label_smoothing: float) -> jnp.ndarray:
    one_hot = jax_one_hot(labels, num_classes)
    return optax.smooth_labels(one_hot, label_smoothing) if label_smoothing else one_hot


def jax_one_hot(labels: jnp.ndarray, num_classes: int) -> jnp.ndarray:
    return (labels[..., None] == jnp.arange(num_classes)).astype(jnp.float32)
