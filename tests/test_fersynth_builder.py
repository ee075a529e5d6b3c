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
    config = module.FERSynthBuilderConfig(
        name="tiny", preset="composite", variants_per_class=2,
        overrides=(("num_subjects", 10), ("image_size", (32, 28)), ("num_folds", 3),
                   ("classes", ("happy", "sad", "surprise"))))
    builder = module.Builder(config=config, data_dir=tmp_path_factory.mktemp("tfds"))
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


def test_stored_record_equals_the_rendered_one(tiny):
    source = tiny.as_data_source("validation")
    rec = source[0]
    config = tiny.builder_config.synth_config
    names = [labels.CLASSES[int(source[i]["label"])] for i in range(len(source))]
    assert names  # keys sort by subject, class, variant; re-render the first one directly
    keys = sorted((int(source[i]["subject_id"]), labels.CLASSES[int(source[i]["label"])])
                  for i in range(len(source)))
    assert keys[0][0] == int(synth.split_subjects(config, "validation")[0])
    found = [source[i] for i in range(len(source))
             if np.array_equal(source[i]["image"],
                               synth.render_subject_example(config, 0, keys[0][0], keys[0][1],
                                                            0)["image"])]
    assert len(found) == 1 and rec["image"].dtype == np.uint8


def test_bad_builder_sizes_raise_naming_the_field(module):
    with pytest.raises(ValueError, match="variants_per_class"):
        module.FERSynthBuilderConfig(name="bad", variants_per_class=0)
    with pytest.raises(ValueError, match="SynthConfig.num_folds"):
        module.FERSynthBuilderConfig(name="bad", overrides=(("num_subjects", 3),
                                                            ("num_folds", 5)))
