"""Landmark loss terms.

EmotionalDAN's joint loss (paper Eq. 2), L = α·NME(S_t, S*) − β·E*·log E_t, is the sum of two
registered terms with config weights, not a separate function:
    config.losses = {"landmark_nme": {"weight": 0.4}, "emotion_ce": {"weight": 0.6}}
(α = 0.4, β = 0.6 as the paper; the authors' code used 0.5 / 0.5). Stage 1 of the stage-wise
schedule trains on {"landmark_nme": {"weight": 1.0}} alone; emotion-only training is
{"emotion_ce": {"weight": 1.0}}.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax.numpy as jnp

from ferjax.ibug68 import LEFT_EYE, RIGHT_EYE

RIGHT_EYE_OUTER_CORNER = 36
LEFT_EYE_OUTER_CORNER = 45
NORMALISATIONS = ("inter_pupil", "inter_ocular")


def normalising_distance(landmarks: jnp.ndarray, normalisation: str = "inter_pupil"):
    """Per-example normalising distance of ground-truth landmarks (B, 68, 2) -> (B,) pixels.

    "inter_pupil": distance between the eye centroids (means of points 36–41 and 42–47), as
    EmotionalDAN and DAN; "inter_ocular": distance between the outer eye corners 36 and 45.
    """
    if normalisation == "inter_pupil":
        a = jnp.mean(landmarks[..., RIGHT_EYE, :], axis=-2)
        b = jnp.mean(landmarks[..., LEFT_EYE, :], axis=-2)
    elif normalisation == "inter_ocular":
        a = landmarks[..., RIGHT_EYE_OUTER_CORNER, :]
        b = landmarks[..., LEFT_EYE_OUTER_CORNER, :]
    else:
        raise ValueError(f"landmark normalisation {normalisation!r}; choose one of "
                         f"{list(NORMALISATIONS)}")
    return jnp.linalg.norm(a - b, axis=-1)


def per_example_nme(predicted: jnp.ndarray, target: jnp.ndarray,
                    normalisation: str = "inter_pupil") -> jnp.ndarray:
    """Mean point-to-point error over the 68 points divided by the normalising distance.

    Args:
      predicted, target: (B, 68, 2) pixels, same frame.
    Returns:
      (B,) unitless errors.
    """
    if predicted.shape != target.shape or predicted.shape[-2:] != (68, 2):
        raise ValueError(f"landmarks must be (B, 68, 2) and match; got predicted "
                         f"{predicted.shape}, target {target.shape}")
    error = jnp.mean(jnp.linalg.norm(predicted - target, axis=-1), axis=-1)
    return error / normalising_distance(target, normalisation)


def landmark_nme(outputs: Mapping[str, Any], batch: Mapping[str, Any], *,
                 normalisation: str = "inter_pupil", all_stages: bool = False) -> jnp.ndarray:
    """NME of outputs["landmarks"] against batch["landmarks"], averaged over the batch.

    Examples with batch["weight"] == 0, with any non-finite ground-truth landmark (absent
    landmarks are NaN) or with coincident eyes do not count; their values are replaced before
    the error so that no NaN reaches the gradient. With `all_stages` the errors of every stage in
    outputs["stage_landmarks"] (T, B, 68, 2) are averaged (deep supervision, an option; DAN
    trains each stage on its own output only).
    """
    target = batch["landmarks"]
    weights = batch.get("weight", jnp.ones(target.shape[:1], jnp.float32))
    # Padding (weight 0, all-zero landmarks) and degenerate eyes would divide by zero.
    valid = (jnp.all(jnp.isfinite(target), axis=(-2, -1)) & (weights > 0)
             & (normalising_distance(jnp.nan_to_num(target), normalisation) > 0))
    weights = jnp.where(valid, weights, 0.0)
    # A harmless stand-in (unit-spaced eyes) for the excluded examples keeps the maths finite.
    stand_in = jnp.zeros_like(target).at[:, LEFT_EYE, 0].set(1.0)
    target = jnp.where(valid[:, None, None], target, stand_in)
    predictions = outputs["stage_landmarks"] if all_stages else outputs["landmarks"][None]
    errors = jnp.stack([per_example_nme(jnp.where(valid[:, None, None], p, stand_in), target,
                                        normalisation) for p in predictions])
    return jnp.sum(jnp.mean(errors, axis=0) * weights) / jnp.maximum(jnp.sum(weights), 1.0)
