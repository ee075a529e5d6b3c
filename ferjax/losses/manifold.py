"""FERAtt's structured Gaussian manifold loss (paper Eq. 2–5)."""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp

# The code's denominator guard. The code adds it to the unshifted sum Σ_k π_ik; ferjax adds it
# after shifting by the row maximum, where the sum is ≥ 1. The two agree to float32 precision
# (relative difference 1e-15 / Σπ) while Σπ ≳ 1e-8, i.e. while the nearest present centroid
# lies within about 6σ of z_i; farther out the code's probabilities shrink towards 0 (halved at
# Σπ = 1e-15) while ferjax's still sum to 1 — e.g. 0.770 (code) against 0.645 (ferjax).
_DENOMINATOR_EPS = 1e-15
MIXUP_PAIRINGS = ("soft", "code")


def gaussian_posteriors(embeddings: jnp.ndarray, centroids: jnp.ndarray, present: jnp.ndarray,
                        sigma: float) -> jnp.ndarray:
    """P(w_j | z_i) under isotropic Gaussians N(μ_j, σ²I) with equal priors (Eq. 2, 4).

    Args:
      embeddings: (N, D) z_i.
      centroids: (K, D) μ_j.
      present: (K,) bool; absent classes get probability 0 and do not enter the normaliser.
      sigma: σ > 0, in embedding units.
    Returns: (N, K) probabilities; rows sum to 1 where any class is present.
    """
    sq_dist = jnp.sum(jnp.square(embeddings[:, None, :] - centroids[None, :, :]), axis=-1)
    log_density = jnp.where(present[None, :], -sq_dist / (2.0 * sigma ** 2), -jnp.inf)
    # Shifting by the row maximum before exp keeps far-apart embeddings from underflowing to
    # 0/0; the ratio is unchanged (the 1e-15 guard is scaled along and stays negligible).
    shift = jax.lax.stop_gradient(jnp.max(log_density, axis=-1, keepdims=True))
    shift = jnp.where(jnp.isfinite(shift), shift, 0.0)
    density = jnp.where(present[None, :], jnp.exp(log_density - shift), 0.0)
    return density / (jnp.sum(density, axis=-1, keepdims=True) + _DENOMINATOR_EPS)


def batch_centroids(embeddings: jnp.ndarray, targets: jnp.ndarray):
    """Class means of the batch. embeddings (N, D), targets (N, K) one-hot (zero rows = ignored).

    Returns (centroids (K, D), present (K,) bool). Gradients flow through the means.
    """
    counts = jnp.sum(targets, axis=0)
    centroids = targets.T @ embeddings / jnp.maximum(counts, 1.0)[:, None]
    return centroids, counts > 0


def gaussian_manifold(outputs: Mapping[str, Any], batch: Mapping[str, Any], *,
                      sigma: float = 0.5, num_classes: int | None = None,
                      mixup: bool = False, mixup_alpha: float = 2.0,
                      mixup_pairing: str = "soft", rng=None) -> jnp.ndarray:
    """Structured Gaussian manifold loss: mean_i Σ_j (P(w_j | z_i) − y_ij)².

    outputs["embedding"] (B, D) = z; batch["label"] (B,) int; batch["weight"] (B,) optional.
    μ_j is the mean embedding of the batch's (weighted-in) examples of class j, with gradients
    flowing through it; classes absent from the batch get p = 0. σ is fixed and isotropic
    (0.5 as the code's final version; 1.0 earlier). num_classes defaults to outputs["logits"]'s K.

    mixup=True appends λ·z_i + (1 − λ)·z_π(i), λ ~ Beta(mixup_alpha, mixup_alpha) (one λ per
    batch), π a random permutation, and their targets per `mixup_pairing`:
      "soft": soft one-hot targets λ·y_i + (1 − λ)·y_π(i); centroids from the original
        examples only; the mean runs over the 2B rows.
      "code": as the authors' DGMMLoss (mix=True): the *integer labels* are mixed,
        c = λ·c_i + (1 − λ)·c_π(i), and one-hot encoded, so a mixed row whose two labels differ
        gets an all-zero target (c is no class index); centroids are taken over the
        concatenated 2B rows with those targets.
    Its key is the option rng or batch["rng"] (the trainer's train step adds one); without a key
    (evaluation) the loss is computed without mixup, since mixup is a training-time regulariser.
    Returns a scalar in [0, 2].
    """
    if sigma <= 0:
        raise ValueError(f"gaussian_manifold: sigma must be > 0, got {sigma}")
    if "embedding" not in outputs:
        raise ValueError("gaussian_manifold needs outputs['embedding'] (B, D)")
    z = outputs["embedding"].astype(jnp.float32)
    if num_classes is None:
        if "logits" not in outputs:
            raise ValueError("gaussian_manifold: pass num_classes or provide outputs['logits']")
        num_classes = outputs["logits"].shape[-1]
    weights = batch.get("weight", jnp.ones(z.shape[:1], jnp.float32)).astype(jnp.float32)
    one_hot = (batch["label"][:, None] == jnp.arange(num_classes)).astype(jnp.float32)
    targets = one_hot * (weights[:, None] > 0)
    centroids, present = batch_centroids(z, targets)

    if mixup_pairing not in MIXUP_PAIRINGS:
        raise ValueError(f"gaussian_manifold: mixup_pairing={mixup_pairing!r}; expected one of "
                         f"{MIXUP_PAIRINGS}")
    key = rng if rng is not None else batch.get("rng")
    if mixup and key is not None:
        key_lambda, key_perm = jax.random.split(key)
        lam = jax.random.beta(key_lambda, mixup_alpha, mixup_alpha)
        perm = jax.random.permutation(key_perm, z.shape[0])
        z = jnp.concatenate([z, lam * z + (1 - lam) * z[perm]])
        weights = jnp.concatenate([weights, weights * weights[perm]])
        if mixup_pairing == "soft":
            one_hot = jnp.concatenate([one_hot, lam * one_hot + (1 - lam) * one_hot[perm]])
        else:
            labels = batch["label"].astype(jnp.float32)
            mixed = lam * labels + (1 - lam) * labels[perm]
            mixed_hot = (mixed[:, None] == jnp.arange(num_classes)).astype(jnp.float32)
            one_hot = jnp.concatenate([one_hot, mixed_hot])
            centroids, present = batch_centroids(z, one_hot * (weights[:, None] > 0))

    probs = gaussian_posteriors(z, centroids, present, sigma)
    per_example = jnp.sum(jnp.square(probs - one_hot), axis=-1)
    return jnp.sum(per_example * weights) / jnp.maximum(jnp.sum(weights), 1.0)
