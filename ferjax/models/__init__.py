"""Models, one module per paper, plus shared layers.

Every model is a Flax Linen module called as `model.apply(variables, images, train=...)` on
float32 NHWC images and returns a dict of outputs (always "logits" (B, K) for a classifier;
others such as "attention", "landmarks", "embedding", "attention_image" where the model has
them), so any loss in ferjax.losses can be combined with any model whose outputs it needs.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Mapping

from ferjax.models.from_config import module_fields

# name -> "module:Module:factory". The Module's fields are the model's defaults; the factory
# takes (model_config, data_info) and returns the Linen module; data_info carries facts only
# the data knows (num_classes, image_shape, and where present mean_landmarks).
_REGISTRY: dict[str, str] = {
    "sun_baseline": "ferjax.models.sun:SunBaseline:baseline_from_config",
    "sun_attention": "ferjax.models.sun:SunAttention:attention_from_config",
    "sun_gap": "ferjax.models.sun:SunGAP:gap_from_config",
    "jalal_self_attention": "ferjax.models.jalal:JalalSelfAttentionNet:jalal_from_config",
    "emotional_dan": "ferjax.models.emotional_dan:EmotionalDAN:emotional_dan_from_config",
    "feratt": "ferjax.models.feratt:FERAtt:feratt_from_config",
    "vgg_fer": "ferjax.models.vgg:VGGFER:vgg_from_config",
    "mini_xception": "ferjax.models.mini_xception:MiniXception:mini_xception_from_config",
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


def _entry(name: str, part: int):
    if name not in _REGISTRY:
        raise ValueError(f"config.model.name={name!r} is not a model; choose one of {names()}")
    module_name, *attributes = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), attributes[part])


def default_config(name: str) -> dict[str, Any]:
    """{"name": name, field: default} for every field of the model's Module that has a default
    (those set from the data, such as num_classes, have none): what a config starts from, so
    that it sets only what differs and every field stays overridable from the command line."""
    module_cls = _entry(name, 0)
    return {"name": name, **{f.name: f.default for f in dataclasses.fields(module_cls)
                             if f.name in module_fields(module_cls)
                             and f.default is not dataclasses.MISSING}}


def build_model(model_config: Mapping[str, Any], data_info: Mapping[str, Any]):
    """Builds the Linen module named by `model_config.name`."""
    return _entry(model_config["name"], 1)(model_config, data_info)
