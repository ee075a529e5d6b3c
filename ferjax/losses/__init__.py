"""Loss terms: pure functions `(outputs, batch, **options) -> scalar`, composed by config.

`config.losses` maps a term name to its options, e.g.
    losses = {"emotion_ce": {"weight": 1.0}, "landmark_nme": {"weight": 0.4}}
and `total_loss` returns the weighted sum and each term, so any model can be trained with any
combination of terms its outputs allow.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping

import jax.numpy as jnp

# name -> "module:function". Each function takes (outputs, batch, **options) -> scalar.
_REGISTRY: dict[str, str] = {
    "emotion_ce": "ferjax.losses.classification:emotion_cross_entropy",
    "landmark_nme": "ferjax.losses.landmarks:landmark_nme",
    "attention_reconstruction": "ferjax.losses.attention:attention_reconstruction",
    "gaussian_manifold": "ferjax.losses.manifold:gaussian_manifold",
}


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Callable[..., jnp.ndarray]:
    if name not in _REGISTRY:
        raise ValueError(f"config.losses.{name} is not a loss term; choose from {names()}")
    module_name, fn = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), fn)


def total_loss(outputs: Mapping[str, Any], batch: Mapping[str, Any],
               terms: Mapping[str, Mapping[str, Any]]):
    """Weighted sum of the configured terms.

    Args:
      outputs: the model's output dict.
      batch: the input batch dict (labels, landmarks, masks, ... as the terms need).
      terms: {name: {"weight": w, **options}}.
    Returns:
      (total scalar, {name: unweighted scalar}).
    """
    if not terms:
        raise ValueError("config.losses is empty: name at least one loss term")
    parts = {}
    total = 0.0
    for name, options in terms.items():
        options = dict(options)
        weight = options.pop("weight", 1.0)
        parts[name] = get(name)(outputs, batch, **options)
        total = total + weight * parts[name]
    return total, parts
