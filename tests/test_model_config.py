"""Model defaults live in the Modules; config.model carries them and what a config changes."""

import numpy as np
import pytest

from ferjax import models
from ferjax.configs import emotional_dan, feratt, jalal_self_attention, sun_attention, sun_baseline, sun_gap

DATA_INFO = {"num_classes": 8, "image_shape": (64, 64, 3),
             "mean_landmarks": np.stack([np.linspace(10, 50, 68)] * 2, axis=1)}


@pytest.mark.parametrize("name", models.names())
def test_unknown_model_field_is_named(name):
    with pytest.raises(ValueError, match=rf"config\.model\.widht is not a field of model "
                                         rf"'{name}' \(unknown: \['widht'\]\)"):
        models.build_model({"name": name, "widht": 3}, DATA_INFO)


def test_unknown_field_without_a_config_name_names_the_module_class():
    from ferjax.models.from_config import module_kwargs
    from ferjax.models.vgg import VGGFER
    with pytest.raises(ValueError, match="is not a field of model 'VGGFER'"):
        module_kwargs(VGGFER, {"widht": 3})


@pytest.mark.parametrize("name", models.names())
def test_data_fields_cannot_come_from_the_config(name):
    with pytest.raises(ValueError, match="config.model.num_classes"):
        models.build_model({"name": name, "num_classes": 3}, DATA_INFO)


@pytest.mark.parametrize("name", models.names())
def test_default_config_builds_the_module_defaults(name):
    bare = models.build_model({"name": name}, DATA_INFO)
    full = models.build_model(models.default_config(name), DATA_INFO)
    assert full == bare


def test_registry_names_every_model_sorted():
    assert models.names() == sorted(models.names())
    assert {"sun_attention", "sun_baseline", "sun_gap", "jalal_self_attention", "emotional_dan",
            "feratt", "vgg_fer"} <= set(models.names())


@pytest.mark.parametrize("name", ["sun_attention", "sun_baseline", "sun_gap"])
def test_sun_factories_take_the_class_count_from_the_data(name):
    model = models.build_model({"name": name}, {"num_classes": 5, "image_shape": (144, 112, 1)})
    assert model.num_classes == 5


def test_load_pretrained_dispatches_only_for_models_with_a_loader(monkeypatch):
    from ferjax.models import resnet34_weights
    variables = {"params": {}}
    assert models.load_pretrained({"name": "sun_attention"}, variables) is variables
    seen = []
    monkeypatch.setattr(resnet34_weights, "load_pretrained_from_config",
                        lambda v, c: seen.append((v, c)) or "loaded")
    config = {"name": "feratt", "resnet34_weights": "w.npz"}
    assert models.load_pretrained(config, variables) == "loaded"
    assert seen == [(variables, config)]


def test_default_config_holds_the_papers_values():
    assert models.default_config("jalal_self_attention")["dropout_rate"] == 0.85
    assert models.default_config("sun_attention")["batch_norm"] is False
    feratt_defaults = models.default_config("feratt")
    assert feratt_defaults["num_resblocks"] == 4 and feratt_defaults["embedding_dim"] == 64


def test_config_lists_become_tuples_so_modules_stay_hashable():
    model = models.build_model({"name": "feratt", "encoder_widths": [8, 16, 16, 16]}, DATA_INFO)
    assert model.encoder_widths == (8, 16, 16, 16)
    hash(model)


# The effective model of each config as it was when every config spelled its model out.
EFFECTIVE = [
    (sun_baseline, None, {"dropout_rate": 0.5, "batch_norm": True}),
    (sun_gap, None, {"dropout_rate": 0.5, "batch_norm": True}),
    (sun_attention, "variant=symmetric,beta=2.0",
     {"dropout_rate": 0.5, "batch_norm": True, "hidden": 66, "beta": 2.0, "symmetric": True,
      "attention_bias": True, "symmetric_denominator": "symmetrized"}),
    (jalal_self_attention, None,
     {"use_attention": True, "gamma_init": "random", "dropout_rate": 0.15, "padding": "SAME",
      "c3_upsample": False}),
    (jalal_self_attention, "paper", {"dropout_rate": 0.85}),
    (emotional_dan, None,
     {"num_stages": 2, "dropout_rate": 0.5, "dropout_placement": "fc1", "bn_order": "relu_bn",
      "active_stages": 2, "frozen_stages": 0}),
    (feratt, None,
     {"variant": "feratt_rep_cls", "classifier_size": 32, "embedding_dim": 64,
      "num_resblocks": 4, "feature_channels": 0, "encoder_widths": (64, 128, 256, 512),
      "encoder_blocks": (3, 4, 6, 3), "decoder_filters": 32, "rec_width": 32,
      "rec_output_relu": True, "rep_width": 64}),
]


@pytest.mark.parametrize("config_module,arg,expected", EFFECTIVE)
def test_configs_keep_their_effective_model_values(config_module, arg, expected):
    config = config_module.get_config(arg)
    model = models.build_model(config.model, DATA_INFO)
    assert {key: getattr(model, key) for key in expected} == expected
    # Every Module field is in the config, so --config.model.<field>=... can override it.
    assert set(models.default_config(config.model.name)) <= set(config.model)


def test_unknown_model_name_lists_the_models():
    with pytest.raises(ValueError, match=r"config\.model\.name='resnet' is not a model; choose "
                                         r"one of \['emotional_dan'"):
        models.build_model({"name": "resnet"}, DATA_INFO)
