"""The one iBUG-68 table: mirror pairs, midline, eye groups."""

import numpy as np

from ferjax import ibug68


def test_mirror_is_an_involution_swapping_sides():
    perm = ibug68.MIRROR
    np.testing.assert_array_equal(perm[perm], np.arange(68))
    # outer eye corners, inner eye corners, mouth corners, jaw ends, brow ends
    assert (perm[36], perm[39], perm[48], perm[0], perm[17]) == (45, 42, 54, 16, 26)
    np.testing.assert_array_equal(ibug68.MIDLINE, [8, 27, 28, 29, 30, 33, 51, 57, 62, 66])


def test_eyes_and_groups_follow_the_subjects_sides():
    assert np.arange(68)[ibug68.RIGHT_EYE].tolist() == list(range(36, 42))
    assert sorted(np.concatenate(list(ibug68.GROUPS.values())).tolist()) == list(range(68))
    for side in ("eye", "brow"):
        right, left = ibug68.GROUPS[f"right_{side}"], ibug68.GROUPS[f"left_{side}"]
        assert set(ibug68.MIRROR[right].tolist()) == set(left.tolist())
