"""FERSynth splits and the on-the-fly grain source."""

import grain
import numpy as np
import pytest

from ferjax import synth

CONFIG = synth.preset("front", image_size=(48, 40), num_subjects=10, num_folds=3)


def test_splits_are_subject_disjoint_and_cover_all_subjects():
    parts = {s: set(synth.split_subjects(CONFIG, s).tolist()) for s in synth.SPLITS}
    assert parts["train"] and parts["validation"] and parts["test"]
    assert not parts["train"] & parts["validation"]
    assert not parts["train"] & parts["test"] and not parts["validation"] & parts["test"]
    assert set.union(*parts.values()) == set(range(10))
    assert [len(parts[s]) for s in synth.SPLITS] == [7, 2, 1]  # 0.7 / 0.15 / 0.15 rounded
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        synth.split_subjects(CONFIG, "dev")


def test_folds_partition_subjects_evenly():
    folds = [synth.subject_fold(CONFIG, s) for s in range(10)]
    assert sorted(set(folds)) == [0, 1, 2]
    assert sorted(np.bincount(folds).tolist()) == [3, 3, 4]


def test_source_renders_the_split_deterministically():
    source = synth.FERSynthSource(CONFIG, seed=3, num_examples=20, split="validation")
    assert len(source) == 20
    subjects = {int(source[i]["subject_id"]) for i in range(len(source))}
    assert subjects == set(synth.split_subjects(CONFIG, "validation").tolist())
    labels_ = [int(source[i]["label"]) for i in range(16)]
    assert labels_ == list(range(8)) * 2  # balanced, class = index mod 8
    again = synth.render_example(CONFIG, 3, 5, "validation")
    assert np.array_equal(source[5]["image"], again["image"])
    assert np.array_equal(source[np.int64(5)]["landmarks"], again["landmarks"])
    assert np.array_equal(source[-1]["image"], source[19]["image"])
    with pytest.raises(IndexError):
        source[20]
    with pytest.raises(ValueError, match="num_examples"):
        synth.FERSynthSource(CONFIG, 0, 0)


def test_source_feeds_a_grain_pipeline():
    source = synth.FERSynthSource(CONFIG, seed=0, num_examples=12, split="train")
    ds = grain.MapDataset.source(source).seed(1).shuffle().batch(4)
    batch = ds[0]
    assert batch["image"].shape == (4, 48, 40, 1) and batch["label"].shape == (4,)
    assert set(batch["subject_id"].tolist()) <= set(synth.split_subjects(CONFIG, "train"))
