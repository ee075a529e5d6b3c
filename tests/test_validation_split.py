"""The validation split model selection uses: a declared split, or a subject-disjoint hold-out
of the training records; build_data keeps it apart from train and test."""

import numpy as np
import pytest
from toy import toy_records

from ferjax.configs import pieces
from ferjax.data import builders, pipeline, sources, validation


def _data_cfg(**fields):
    c = pieces.fersynth_data()
    c.source = "memory"
    c.records = {"train": sources.ListSource(toy_records(40, 1, subjects=10)),
                 "validation": sources.ListSource(toy_records(16, 2)),
                 "test": sources.ListSource(toy_records(16, 3))}
    c.crop_size = (32, 32)
    c.stats_examples = 16
    c.update(fields)
    return c


def test_subject_holdout_is_subject_disjoint_sized_and_seeded():
    ids = np.repeat(np.arange(10), 3)
    held = validation.subject_holdout(ids, 0.3, seed=0)
    assert len(np.unique(ids[held])) == 3 and held.sum() == 9
    assert not set(ids[held]) & set(ids[~held])
    np.testing.assert_array_equal(held, validation.subject_holdout(ids, 0.3, seed=0))
    assert not np.array_equal(held, validation.subject_holdout(ids, 0.3, seed=1))
    # At least one subject on each side, whatever the fraction.
    assert validation.subject_holdout(ids, 0.01, 0).sum() == 3
    assert len(np.unique(ids[~validation.subject_holdout(ids, 0.99, 0)])) == 1
    with pytest.raises(ValueError, match="at least 2 training subjects, got 1"):
        validation.subject_holdout(np.zeros(5), 0.5, 0)


def test_build_data_without_validation_is_unchanged():
    data = pipeline.build_data(_data_cfg(), seed=0)
    assert data.validation is None and data.info["validation_size"] == 0
    assert data.info["train_size"] == 40 and data.info["eval_size"] == 16


def test_build_data_holds_out_training_subjects():
    data = pipeline.build_data(_data_cfg(validation_fraction=0.3), seed=0)
    train_subjects = set(sources.field_values(data.train, "subject_id").tolist())
    held_subjects = set(sources.field_values(data.validation, "subject_id").tolist())
    assert not train_subjects & held_subjects
    assert len(held_subjects) == 3 and len(train_subjects | held_subjects) == 10
    assert data.info["train_size"] + data.info["validation_size"] == 40
    assert data.info["eval_size"] == 16  # the reported split is untouched


def test_build_data_reads_a_declared_validation_split():
    data = pipeline.build_data(_data_cfg(validation_split="validation", eval_split="test"), seed=0)
    assert data.info["validation_size"] == 16 and data.info["train_size"] == 40
    assert int(data.validation[0]["label"]) == int(toy_records(16, 2)[0]["label"])


def test_bad_validation_settings_are_named():
    with pytest.raises(ValueError, match="validation_split='validation' and .*validation_fraction"
                                         "=0.2 are both set"):
        pipeline.build_data(_data_cfg(validation_split="validation", validation_fraction=0.2),
                            seed=0)
    with pytest.raises(ValueError, match=r"validation_split='validation' shares \['validation'\] "
                                         r"with config.data.eval_split='validation'"):
        pipeline.build_data(_data_cfg(validation_split="validation"), seed=0)
    with pytest.raises(ValueError, match="validation_fraction=1.5; expected 0"):
        pipeline.build_data(_data_cfg(validation_fraction=1.5), seed=0)
    no_subjects = _data_cfg(validation_fraction=0.2)
    records = toy_records(20, 1)
    for r in records[:4]:
        r["subject_id"] = np.int64(-1)
    no_subjects.records.train = sources.ListSource(records)
    with pytest.raises(ValueError, match=r"4 of 20 training records of 'fersynth' have no subject "
                                         r"id \(-1\), so no subject-disjoint hold-out exists; use "
                                         r"config.data.validation_split"):
        pipeline.build_data(no_subjects, seed=0)


def test_fer2013_protocol_selects_on_publictest():
    assert builders.protocol("fer2013").validation_split == "validation"
    data, protocol = pieces.real_data("fer2013", image_size=48)
    assert protocol == "holdout"
    assert (data.train_split, data.validation_split, data.eval_split) == ("train", "validation",
                                                                          "test")
    rafdb, _ = pieces.real_data("rafdb", image_size=100)
    assert rafdb.validation_split == "" and rafdb.validation_fraction == 0.0


def test_cross_dataset_test_sets_do_not_inherit_the_validation_data():
    from ferjax.evaluation.cross_dataset import config_for_test_set
    run = _data_cfg(validation_split="validation", eval_split="test")
    test = config_for_test_set(run, {"name": "ckplus", "eval_split": "train"})
    assert (test.validation_split, test.validation_fraction) == ("", 0.0)
    assert run.validation_split == "validation"
