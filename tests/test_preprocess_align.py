"""Similarity alignment: exact recovery of a pure similarity, point and pixel transport."""

import cv2
import numpy as np
import pytest

from ferjax.preprocess import align


def similarity(scale, angle_deg, tx, ty):
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx],
                     [scale * np.sin(a), scale * np.cos(a), ty]])


def test_pure_similarity_is_recovered_exactly():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 300, (68, 2))
    truth = similarity(0.6, 17.0, -40.0, 25.0)
    target = align.transform_points(source, truth).astype(np.float64)
    estimated = align.estimate_similarity(source, target)
    np.testing.assert_allclose(estimated, truth, atol=1e-4)
    error = np.abs(align.transform_points(source, estimated) - target).max()
    assert error < 1e-3


def test_template_points_land_on_template():
    size, margin = (144, 112), 0.1
    template = np.asarray(align.FIVE_POINT_TEMPLATE)
    placed = align.template_in_output(template, size, margin)
    # face square of side 112 / 1.2, centred: x offset (112 - s)/2, y offset (144 - s)/2
    side = 112 / 1.2
    np.testing.assert_allclose(placed[0], template[0] * side + [(112 - side) / 2 - 0.5,
                                                                (144 - side) / 2 - 0.5])
    points = align.transform_points(placed, np.linalg.inv(np.vstack(
        [similarity(0.5, -30, 10, 20), [0, 0, 1]]))[:2])
    matrix = align.alignment_matrix(points, template, size, margin)
    np.testing.assert_allclose(align.transform_points(points, matrix), placed, atol=1e-3)


def test_warp_moves_a_dot_where_the_matrix_says():
    image = np.zeros((200, 300, 1), np.uint8)
    cv2.circle(image, (220, 50), 3, 255, -1)
    matrix = similarity(0.8, 30.0, 5.0, 40.0)
    out = align.warp_image(image, matrix, (256, 256))
    assert out.shape == (256, 256, 1)
    ys, xs = np.nonzero(out[..., 0] > 100)
    expected = align.transform_points(np.array([[220.0, 50.0]]), matrix)[0]
    np.testing.assert_allclose([xs.mean(), ys.mean()], expected, atol=0.6)


def test_strong_shrink_prefilters_and_keeps_geometry():
    image = np.zeros((1000, 1000, 3), np.uint8)
    image[::2] = 255  # 1-pixel stripes: aliasing would give bands, area filtering gives grey
    cv2.circle(image, (700, 300), 40, (0, 0, 0), -1)
    matrix = similarity(0.1, 10.0, 3.0, 4.0)
    out = align.warp_image(image, matrix, (100, 100))
    cx, cy = align.transform_points(np.array([[700.0, 300.0]]), matrix)[0]
    assert out[int(round(cy)), int(round(cx))].max() < 60
    background = out[70:90, 20:40].astype(float)  # inside the source, away from the disc
    assert abs(background.mean() - 127.5) < 20 and background.std() < 15


def test_resize_matrix_matches_cv2_resize():
    image = np.zeros((40, 60), np.uint8)
    image[10, 30] = 255
    out = cv2.resize(image, (120, 80), interpolation=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(out)
    weights = out[ys, xs].astype(float)
    centre = [np.average(xs, weights=weights), np.average(ys, weights=weights)]
    expected = align.transform_points(np.array([[30.0, 10.0]]),
                                      align.resize_matrix((40, 60), (80, 120)))[0]
    np.testing.assert_allclose(centre, expected, atol=1e-3)


def test_five_points_from_68():
    landmarks = np.zeros((68, 2))
    landmarks[36:42] = [[0, 0], [2, 0], [4, 0], [4, 2], [2, 2], [0, 2]]
    landmarks[42:48] = landmarks[36:42] + [10, 0]
    landmarks[30] = [7, 5]
    landmarks[48] = [3, 9]
    landmarks[54] = [11, 9]
    np.testing.assert_allclose(align.five_points_from_68(landmarks),
                               [[2, 1], [12, 1], [7, 5], [3, 9], [11, 9]])
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        align.five_points_from_68(np.zeros((5, 2)))


def test_bad_points_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        align.estimate_similarity(np.full((5, 2), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="degenerate"):
        align.estimate_similarity(np.zeros((5, 2)), np.ones((5, 2)))
