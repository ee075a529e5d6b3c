"""Jalal et al. 2019 config arguments, and a real (tiny) training run with class re-sampling."""

import json

import numpy as np
import pytest
from toy import toy_config

from ferjax import runs
from ferjax.configs import jalal_self_attention
from ferjax.data import pipeline


def test_config_arguments():
    c = jalal_self_attention.get_config(None)
    assert c.model.name == "jalal_self_attention" and c.model.use_attention
    assert c.data.config == "wild" and c.data.channels == 3 and c.data.crop_size == (96, 96)
    assert tuple(c.data.builder_kwargs.image_size) == (112, 112)  # the crop keeps the face
    assert c.train.schedule.lr == 1e-3 and c.model.dropout_rate == 0.15
    assert not c.data.class_sampling.balance and c.data.class_sampling.imbalance == ""
    c = jalal_self_attention.get_config("attention=False,imbalanced,balance,target=30,gamma=zero")
    assert not c.model.use_attention and c.model.gamma_init == "zero"
    assert dict(c.data.class_sampling) == {"imbalance": "affectnet", "balance": True,
                                           "target": "30", "replicate": "fill",
                                           "crop_fraction": 0.9}
    paper = jalal_self_attention.get_config("paper")
    assert paper.data.name == "affectnet" and paper.data.config == "csv8"
    assert paper.train.batch_size == 500 and paper.train.num_epochs == 700.0
    assert paper.model.dropout_rate == 0.85 and paper.train.schedule.lr == 1e-4
    assert paper.train.num_steps == 0 and paper.data.crop_size == (224, 224)
    assert paper.data.eval_split == "validation" and paper.data.channels == 3
    assert paper.data.builder_kwargs.image_size == 256
    assert paper.train.schedule.lr == 1e-4
    assert paper.data.class_sampling.balance and paper.data.class_sampling.target == "13000"
    with pytest.raises(ValueError, match="gamma='one'"):
        jalal_self_attention.get_config("gamma=one")


def _toy_jalal(steps, sampling):
    config = toy_config(steps=steps, batch=8, model="jalal_self_attention")
    config.model = {"name": "jalal_self_attention", "dropout_rate": 0.85}
    config.data.class_sampling = sampling
    return config


def test_pipeline_hook_resamples_the_training_set():
    sampling = {"imbalance": "affectnet", "balance": True, "target": "mean",
                "replicate": "fill", "crop_fraction": 0.9}
    data = pipeline.build_data(_toy_jalal(2, sampling).data, seed=0)
    counts = np.bincount(data.train.field_values("label"), minlength=8)
    assert len(set(counts.tolist())) == 1 and data.info["train_size"] == counts.sum()
    plain = pipeline.build_data(_toy_jalal(2, {}).data, seed=0)
    assert plain.info["train_size"] == 64


def test_training_run_with_balancing(tmp_path):
    sampling = {"imbalance": "", "balance": True, "target": "6", "replicate": "fill",
                "crop_fraction": 0.9}
    result = runs.run(_toy_jalal(3, sampling), tmp_path).summary
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["num_examples"] == 24 and 0.0 <= result["accuracy"] <= 1.0
