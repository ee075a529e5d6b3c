"""The FERSynth TFDS builder: declared features, counts, subject-disjoint splits."""

import numpy as np
import pytest

from ferjax import labels, synth
from ferjax.data import builders


@pytest.fixture(scope="module")
def module():
    return builders.builder_module("fersynth")


@pytest.fixture(scope="module")
def tiny(module, tmp_path_factory):
    builder = module.Builder(
        config="composite", data_dir=tmp_path_factory.mktemp("tfds"), variants_per_class=2,
        num_subjects=10, image_size=(32, 28), num_folds=3,
        classes=("happy", "sad", "surprise"))
    builder.download_and_prepare()
    return builder


def test_builder_is_found_by_the_loader(module):
    assert "fersynth" in builders.available()
    assert builders.builder_class("fersynth") is module.Builder
    names = [c.name for c in module.Builder.BUILDER_CONFIGS]
    assert names == ["front", "pose", "wild", "composite"]


def test_default_front_config_declares_sun_sized_grey_images(module, tmp_path):
    info = module.Builder(config="front", data_dir=tmp_path).info
    assert info.features["image"].shape == (160, 125, 1)
    assert info.features["au_regions"].shape == (40, 32)
    assert "face" not in info.features
    assert info.features["label"].names == list(labels.CLASSES)


def test_tiny_build_yields_declared_features_and_counts(tiny):
    counts = {s: tiny.info.splits[s].num_examples for s in synth.SPLITS}
    assert counts == {"train": 7 * 3 * 2, "validation": 2 * 3 * 2, "test": 1 * 3 * 2}
    source = tiny.as_data_source("train")
    assert len(source) == 42
    rec = source[0]
    assert set(rec) == set(tiny.info.features)
    expected = {"image": ((32, 28, 3), np.uint8), "mask": ((32, 28, 1), np.uint8),
                "face": ((32, 28, 3), np.uint8), "landmarks": ((68, 2), np.float32),
                "au": ((16,), np.float32), "au_regions": ((8, 7), np.uint16),
                "pose": ((3,), np.float32)}
    for key, (shape, dtype) in expected.items():
        assert np.asarray(rec[key]).shape == shape and np.asarray(rec[key]).dtype == dtype, key
    assert tiny.info.file_format.value == "array_record"


def test_tiny_build_splits_are_subject_disjoint_with_folds(tiny):
    subjects, labels_seen = {}, set()
    for split in synth.SPLITS:
        source = tiny.as_data_source(split)
        recs = [source[i] for i in range(len(source))]
        subjects[split] = {int(r["subject_id"]) for r in recs}
        labels_seen |= {int(r["label"]) for r in recs}
        for r in recs:
            assert int(r["fold"]) == int(r["subject_id"]) % 3
    assert not subjects["train"] & subjects["validation"]
    assert not subjects["train"] & subjects["test"]
    assert not subjects["validation"] & subjects["test"]
    assert labels_seen == {labels.class_index(c) for c in ("happy", "sad", "surprise")}




def test_keyword_overrides_derive_a_named_config_equal_to_the_live_source(tiny):
    assert tiny.builder_config.name.startswith("composite-")
    assert "num_subjects_10" in tiny.builder_config.name
    config = tiny.builder_config.synth_config
    live = synth.FERSynthSource(config, seed=0, num_examples=None, split="test")
    stored = tiny.as_data_source("test")
    assert len(live) == len(stored) == 6
    stored_images = {np.asarray(stored[i]["image"]).tobytes() for i in range(len(stored))}
    assert {live[i]["image"].tobytes() for i in range(len(live))} == stored_images


def test_many_overrides_get_a_short_stable_distinct_name(module, tmp_path):
    many = {"blur_prob": 0.2, "fringe_prob": 0.1, "glasses_prob": 0.1, "light_range": 29.0,
            "noise_std_range": (0.0, 5.4), "pitch_range": 6.0, "roll_range": 8.0,
            "scale_range": (0.9, 1.08), "shift_range": 0.04, "yaw_jitter": 14.0,
            "ambient_range": (0.45, 0.67), "gain_range": (0.79, 1.17)}
    names = [module.Builder(config="wild", data_dir=tmp_path, **kw).builder_config.name
             for kw in (many, dict(many), {**many, "yaw_jitter": 15.0})]
    assert all(n.startswith("wild-") and len(n) <= 120 for n in names)
    assert names[0] == names[1] != names[2]
    builder = module.Builder(config="wild", data_dir=tmp_path, **many)
    assert "yaw_jitter=14.0" in builder.builder_config.description
    assert builder.builder_config.synth_config.yaw_jitter == 14.0


def test_bad_builder_sizes_raise_naming_the_field(module, tmp_path):
    with pytest.raises(ValueError, match="SynthConfig.variants_per_class"):
        module.Builder(config="front", variants_per_class=0, data_dir=tmp_path)
    with pytest.raises(ValueError, match="SynthConfig.num_folds"):
        module.Builder(config="front", num_subjects=3, num_folds=5, data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown config 'studio'"):
        module.Builder(config="studio", num_subjects=3, data_dir=tmp_path)
