"""Models, one module per paper, plus shared layers.

Every model is a Flax Linen module called as `model.apply(variables, images, train=...)` on
float32 NHWC images and returns a dict of outputs (always "logits" (B, K) for a classifier;
others such as "attention", "landmarks", "embedding", "attention_image" where the model has
them), so any loss in ferjax.losses can be combined with any model whose outputs it needs.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

# name -> "module:factory". A factory takes (model_config, data_info) and returns a Linen
# module; data_info carries facts only the data knows (num_classes, image_shape, and where
# present mean_landmarks).
_REGISTRY: dict[str, str] = {
    "sun_baseline": "ferjax.models.sun:baseline_from_config",
    "sun_attention": "ferjax.models.sun:attention_from_config",
    "sun_gap": "ferjax.models.sun:gap_from_config",
    "jalal_self_attention": "ferjax.models.jalal:jalal_from_config",
    "emotional_dan": "ferjax.models.emotional_dan:emotional_dan_from_config",
    "feratt": "ferjax.models.feratt:feratt_from_config",
}


# name -> "module:function" taking (variables, model_config) and returning variables with
# user-supplied pretrained weights loaded (never downloaded); models absent here have none.
_PRETRAINED: dict[str, str] = {
    "feratt": "ferjax.models.resnet34_weights:load_pretrained_from_config",
}


def load_pretrained(model_config: Mapping[str, Any], variables):
    """Applies the model's pretrained-weight loader to freshly initialised variables."""
    if model_config["name"] not in _PRETRAINED:
        return variables
    module_name, fn = _PRETRAINED[model_config["name"]].split(":")
    return getattr(importlib.import_module(module_name), fn)(variables, model_config)


def names() -> list[str]:
    return sorted(_REGISTRY)


def build_model(model_config: Mapping[str, Any], data_info: Mapping[str, Any]):
    """Builds the Linen module named by `model_config.name`."""
    name = model_config["name"]
    if name not in _REGISTRY:
        raise ValueError(f"config.model.name={name!r} is not a model; choose one of {names()}")
    module_name, factory = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), factory)(model_config, data_info)
