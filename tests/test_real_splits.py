"""Subject-independent protocols are pure functions of subject ids."""

import numpy as np
import pytest

from ferjax.data import builders, splits


def test_sun_rafd_ranges():
    ids = np.array([1, 15, 16, 29, 30, 43, 44, 57, 58, 73])
    np.testing.assert_array_equal(splits.sun_rafd_folds(ids), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])


def test_id_outside_ranges_is_named():
    with pytest.raises(ValueError, match=r"\[74\]"):
        splits.sun_rafd_folds([1, 74])


def test_subject_kfold_contiguous_balanced_and_subject_disjoint():
    ids = np.array([5, 5, 1, 2, 3, 4, 7, 6, 8, 9, 10])  # 10 subjects
    folds = splits.subject_kfold(ids, 3)  # blocks [1..4], [5..7], [8..10]
    expected = {1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 1, 8: 2, 9: 2, 10: 2}
    np.testing.assert_array_equal(folds, [expected[i] for i in ids])
    for f in range(3):
        assert not set(ids[folds == f]) & set(ids[folds != f])


def test_leave_n_subjects_out_and_loso_agree_with_kfold():
    ids = np.array([3, 1, 2, 2, 7, 5, 4])  # subjects 1 2 3 4 5 7
    np.testing.assert_array_equal(splits.leave_n_subjects_out(ids, 4), [0, 0, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(splits.leave_one_subject_out(ids), [2, 0, 1, 1, 5, 4, 3])
    # With S subjects, LOSO equals S-fold and L-N-SO with S/n folds equals (S/n)-fold.
    np.testing.assert_array_equal(splits.leave_one_subject_out(ids), splits.subject_kfold(ids, 6))
    np.testing.assert_array_equal(splits.leave_n_subjects_out(ids, 2), splits.subject_kfold(ids, 3))


def test_folds_are_deterministic_and_order_free():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, 200)
    perm = rng.permutation(200)
    np.testing.assert_array_equal(splits.subject_kfold(ids, 10)[perm], splits.subject_kfold(ids[perm], 10))


@pytest.mark.parametrize("fn", [lambda i: splits.subject_kfold(i, 2), splits.leave_one_subject_out])
def test_unknown_subjects_rejected(fn):
    with pytest.raises(ValueError, match="unknown subject id -1"):
        fn(np.array([1, -1, 2]))


def test_bad_k_is_named():
    with pytest.raises(ValueError, match="k=5"):
        splits.subject_kfold([1, 2], 5)


def test_protocols_name_official_test_splits():
    assert builders.protocol("affectnet").test_split == "validation"
    assert builders.protocol("sfew").test_split == "validation"
    assert builders.protocol("fer2013").test_split == "test"
    assert builders.protocol("rafd").num_folds == len(splits.SUN_RAFD_RANGES) == 5
    assert builders.protocol("jaffe").kind == "folds"


def test_every_protocol_belongs_to_its_dataset_and_laid_out_datasets_have_none():
    for name in builders.available():
        protocol = builders.protocol(name)
        assert protocol is None or protocol.dataset == name, name
    assert builders.protocol("class_folder") is None and builders.protocol("fersynth") is None
