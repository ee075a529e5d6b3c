"""Convex-hull face masks."""

import numpy as np
import pytest

from ferjax.preprocess.masks import hull_mask


def test_square_hull_area_and_inside_points():
    rng = np.random.default_rng(0)
    corners = np.array([[10.0, 20.0], [50.0, 20.0], [50.0, 60.0], [10.0, 60.0]])
    inside = rng.uniform([11, 21], [49, 59], (30, 2))
    mask = hull_mask(np.concatenate([inside, corners]), (80, 70))
    assert mask.shape == (80, 70, 1) and mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 255}
    assert mask[20:61, 10:51].min() == 255  # pixel centres on the hull boundary are included
    assert (mask > 0).sum() == 41 * 41


def test_triangle_covers_its_points_and_not_beyond():
    points = np.array([[5.0, 5.0], [60.0, 10.0], [30.0, 55.0]])
    mask = hull_mask(points, (64, 64))[..., 0]
    for x, y in points:
        assert mask[int(y), int(x)] == 255
    area = 0.5 * abs(np.cross(points[1] - points[0], points[2] - points[0]))
    assert abs((mask > 0).sum() - area) < 0.1 * area
    assert mask[60, 60] == 0 and mask[2, 60] == 0


def test_bad_landmarks():
    with pytest.raises(ValueError, match="NaN"):
        hull_mask(np.full((68, 2), np.nan), (10, 10))
    with pytest.raises(ValueError, match="K >= 3"):
        hull_mask(np.zeros((2, 2)), (10, 10))
