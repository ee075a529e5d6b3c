"""DAN connection layers: transform estimation, warp, heatmap, feature image, shape update."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage

from ferjax.models import dan_layers


def _similarity(angle, scale, shift):
    a, b = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[a, b], [-b, a]]), np.asarray(shift, np.float64)


def test_estimate_recovers_known_similarity_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 50, size=(2, 68, 2))
    transforms = [_similarity(0.3, 1.7, (5.0, -3.0)), _similarity(-2.0, 0.6, (-10.0, 4.0))]
    dst = np.stack([s @ A + t for s, (A, t) in zip(src, transforms)])
    A, t = dan_layers.estimate_similarity_transform(jnp.asarray(src, jnp.float32),
                                                    jnp.asarray(dst, jnp.float32))
    np.testing.assert_allclose(A, np.stack([A for A, _ in transforms]), atol=1e-4)
    np.testing.assert_allclose(t, np.stack([t for _, t in transforms]), atol=1e-3)


def test_estimate_is_least_squares_against_a_shared_destination():
    # One shared (N, 2) destination broadcasts over the batch; a noisy source gives the
    # normal-equation solution of the 4-parameter linear least-squares problem.
    rng = np.random.default_rng(1)
    dst = rng.uniform(0, 30, size=(68, 2))
    src = dst @ _similarity(0.2, 1.3, (1, 2))[0] + rng.normal(0, 0.5, size=(68, 2))
    A, t = dan_layers.estimate_similarity_transform(jnp.asarray(src[None], jnp.float32),
                                                    jnp.asarray(dst, jnp.float32))
    # Unknowns (a, b, tx, ty): x' = a·x − b·y + tx, y' = b·x + a·y + ty.
    rows_x = np.stack([src[:, 0], -src[:, 1], np.ones(68), np.zeros(68)], -1)
    rows_y = np.stack([src[:, 1], src[:, 0], np.zeros(68), np.ones(68)], -1)
    a, b, tx, ty = np.linalg.lstsq(np.concatenate([rows_x, rows_y]),
                                   np.concatenate([dst[:, 0], dst[:, 1]]), rcond=None)[0]
    np.testing.assert_allclose(A[0], [[a, b], [-b, a]], atol=1e-4)
    np.testing.assert_allclose(t[0], [tx, ty], atol=1e-3)


def test_inverse_transform_round_trip():
    rng = np.random.default_rng(2)
    shape = jnp.asarray(rng.uniform(0, 64, size=(3, 68, 2)), jnp.float32)
    A, t = dan_layers.estimate_similarity_transform(
        shape, jnp.asarray(rng.uniform(0, 64, size=(68, 2)), jnp.float32))
    A_inv, t_inv = dan_layers.invert_transform(A, t)
    back = dan_layers.apply_transform(dan_layers.apply_transform(shape, A, t), A_inv, t_inv)
    np.testing.assert_allclose(back, shape, atol=1e-3)
    # S_t = T⁻¹(T(S) + 0) = S; with a pure translation T the delta adds unchanged.
    np.testing.assert_allclose(dan_layers.next_shape(shape, jnp.zeros_like(shape), A, t), shape,
                               atol=1e-3)
    eye = jnp.broadcast_to(jnp.eye(2), (3, 2, 2))
    delta = jnp.ones_like(shape) * jnp.array([2.0, -1.0])
    np.testing.assert_allclose(dan_layers.next_shape(shape, delta, eye, jnp.full((3, 2), 7.0)),
                               shape + delta, atol=1e-4)


def test_warp_by_identity_is_identity():
    images = jnp.asarray(np.random.default_rng(3).normal(size=(2, 12, 10, 3)), jnp.float32)
    warped = dan_layers.warp_image(images, jnp.broadcast_to(jnp.eye(2), (2, 2, 2)),
                                   jnp.zeros((2, 2)))
    np.testing.assert_allclose(warped, images, atol=1e-6)


def test_warp_integer_translation_and_quarter_turn():
    image = np.arange(6 * 6, dtype=np.float32).reshape(1, 6, 6, 1)
    # x' = x + (2, 1): out[y + 1, x + 2] = in[y, x], zero where nothing maps.
    out = dan_layers.warp_image(jnp.asarray(image), jnp.eye(2)[None], jnp.array([[2.0, 1.0]]))
    expected = np.zeros_like(image)
    expected[0, 1:, 2:] = image[0, :-1, :-2]
    np.testing.assert_allclose(out, expected, atol=1e-5)
    # A = [[0, 1], [-1, 0]], t = (5, 0): (x, y) -> (5 − y, x), a quarter turn of the grid.
    A = jnp.array([[[0.0, 1.0], [-1.0, 0.0]]])
    out = dan_layers.warp_image(jnp.asarray(image), A, jnp.array([[5.0, 0.0]]))
    expected = np.zeros_like(image)
    for y in range(6):
        for x in range(6):
            expected[0, x, 5 - y] = image[0, y, x]
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_warp_matches_direct_bilinear_computation():
    rng = np.random.default_rng(4)
    image = rng.normal(size=(9, 11)).astype(np.float32)
    A, t = _similarity(0.4, 0.8, (2.5, -1.25))
    out = dan_layers.warp_image(jnp.asarray(image[None, ..., None]),
                                jnp.asarray(A[None], jnp.float32),
                                jnp.asarray(t[None], jnp.float32))
    ys, xs = np.mgrid[0:9, 0:11]
    source = (np.stack([xs, ys], -1) - t) @ np.linalg.inv(A)
    # Zero padding outside the image, interpolated across the border ("grid-constant").
    expected = scipy.ndimage.map_coordinates(image.astype(np.float64),
                                             [source[..., 1], source[..., 0]], order=1,
                                             mode="grid-constant", cval=0.0)
    np.testing.assert_allclose(out[0, ..., 0], expected, atol=1e-4)


def test_heatmap_values_at_and_near_a_landmark():
    points = np.full((1, 68, 2), -100.0, np.float32)  # far outside: no contribution
    points[0, 0] = (10.0, 8.0)
    points[0, 1] = (25.5, 20.0)
    heat = np.asarray(dan_layers.landmark_heatmap(jnp.asarray(points), (32, 40), 16,
                                                  anchor="round"))[0, ..., 0]
    assert heat.shape == (32, 40)
    assert heat[8, 10] == pytest.approx(1.0)
    assert heat[8, 11] == pytest.approx(0.5)
    assert heat[9, 11] == pytest.approx(1.0 / (1.0 + np.sqrt(2.0)), rel=1e-6)
    assert heat[8, 10 - 8] == pytest.approx(1.0 / 9.0)  # patch edge, offset −8
    assert heat[8, 10 + 8] == 0.0  # just outside the 16×16 patch (offsets −8..7)
    # Sub-pixel landmark: pixel (x=25, y=20) is 0.5 away.
    assert heat[20, 25] == pytest.approx(1.0 / 1.5)
    assert heat[0, 39] == 0.0


def test_heatmap_takes_the_max_over_landmarks():
    points = np.full((1, 68, 2), -100.0, np.float32)
    points[0, 0] = (5.0, 5.0)
    points[0, 1] = (7.0, 5.0)
    heat = np.asarray(dan_layers.landmark_heatmap(jnp.asarray(points), (16, 16), 16,
                                                  anchor="round"))[0, ..., 0]
    assert heat[5, 6] == pytest.approx(0.5)   # 1 from both: max, not sum
    assert heat[5, 7] == pytest.approx(1.0)
    assert heat[5, 8] == pytest.approx(0.5)


def _heat(point, anchor, shape=(32, 40)):
    points = np.tile(np.asarray(point, np.float32), (1, 68, 1))  # 68 copies of one point
    return np.asarray(dan_layers.landmark_heatmap(jnp.asarray(points), shape, 16,
                                                  anchor=anchor))[0, ..., 0]


def test_code_anchor_truncates_instead_of_rounding():
    # x = 20.6: the code's patch starts at int(20.6) − 8 = 12, a rounded one at 21 − 8 = 13.
    code, rounded = _heat((20.6, 12.3), "code"), _heat((20.6, 12.3), "round")
    assert code[12, 12] == pytest.approx(1.0 / (1.0 + np.hypot(8.6, 0.3)), rel=1e-5)
    assert rounded[12, 12] == 0.0
    assert code[12, 28] == 0.0
    assert rounded[12, 28] == pytest.approx(1.0 / (1.0 + np.hypot(7.4, 0.3)), rel=1e-5)
    np.testing.assert_allclose(code[12, 13:28], rounded[12, 13:28], rtol=1e-6)


def test_code_anchor_clamps_points_half_a_patch_inside_the_image():
    # (3.7, 30.2) in a 32×40 (H×W) image is drawn at (8, 32 − 1 − 8) = (8, 23).
    heat = _heat((3.7, 30.2), "code")
    assert heat[23, 8] == pytest.approx(1.0)
    assert heat[23, 0] == pytest.approx(1.0 / 9.0)
    assert heat[23, 16] == 0.0 and heat[31, 8] == 0.0
    assert heat[15, 8] == pytest.approx(1.0 / 9.0)
    assert heat.max() == pytest.approx(1.0) and np.count_nonzero(heat) == 16 * 16


def test_code_anchor_reaches_the_first_row_and_column():
    # Clamped to (8, 8), the patch covers rows and columns 0..15: row/column 0 included.
    heat = _heat((2.0, 1.0), "code")
    assert heat[0, 8] == pytest.approx(1.0 / 9.0) and heat[8, 0] == pytest.approx(1.0 / 9.0)
    assert heat[0, 0] == pytest.approx(1.0 / (1.0 + np.hypot(8.0, 8.0)), rel=1e-6)
    assert np.count_nonzero(heat) == 16 * 16


def test_heatmap_rejects_an_unknown_anchor():
    with pytest.raises(ValueError, match="heatmap_anchor"):
        _heat((5.0, 5.0), "nearest")


def test_feature_image_is_upscaled_nearest_neighbour_as_the_code():
    features = jnp.asarray([[[1.0, 2.0], [3.0, 5.0]]])
    up = np.asarray(dan_layers.upscale_feature_image(features, (4, 4)))[0, ..., 0]
    np.testing.assert_array_equal(up, np.repeat(np.repeat([[1.0, 2.0], [3.0, 5.0]], 2, 0), 2, 1))
    smooth = np.asarray(dan_layers.upscale_feature_image(features, (4, 4), "bilinear"))[0, ..., 0]
    # Half-pixel centres: output pixel 1 sits at source 0.25, between 1 and 2.
    assert smooth[0, 1] == pytest.approx(1.25)
    with pytest.raises(ValueError, match="feature_upscale"):
        dan_layers.upscale_feature_image(features, (4, 4), "cubic")


def test_feature_image_upscaling_and_jit_of_the_whole_connection():
    features = jnp.ones((2, 8, 8)) * 3.0
    up = dan_layers.upscale_feature_image(features, (16, 16))
    assert up.shape == (2, 16, 16, 1)
    np.testing.assert_allclose(up, 3.0, atol=1e-6)

    @jax.jit
    def connect(images, shape, mean):
        A, t = dan_layers.estimate_similarity_transform(shape, mean)
        return (dan_layers.warp_image(images, A, t),
                dan_layers.landmark_heatmap(dan_layers.apply_transform(shape, A, t), (16, 16)))

    rng = np.random.default_rng(5)
    mean = jnp.asarray(rng.integers(4, 12, size=(68, 2)), jnp.float32)
    warped, heat = connect(jnp.ones((2, 16, 16, 1)), mean[None].repeat(2, 0) + 0.5, mean)
    assert warped.shape == (2, 16, 16, 1) and heat.shape == (2, 16, 16, 1)
    assert float(heat.max()) == pytest.approx(1.0, abs=1e-5)  # landmarks land on the mean


@pytest.mark.parametrize("anchor", ["code", "round"])
def test_heatmap_gradient_is_finite_with_landmarks_on_pixels(anchor):
    # Integer landmarks (and clamped ones, whose clamped value is an integer) put a pixel at
    # distance 0: the gradient there is the subgradient 0, not the norm's 0/0.
    points = np.tile(np.array([10.0, 8.0], np.float32), (1, 68, 1))
    points[0, 1] = (3.0, 30.0)  # clamped to (8, 23): on a pixel as well
    points[0, 2] = (12.25, 9.5)

    def total(p):
        return jnp.sum(dan_layers.landmark_heatmap(p, (32, 40), 16, anchor=anchor))

    grad = np.asarray(jax.grad(total)(jnp.asarray(points)))
    assert np.all(np.isfinite(grad))
    # Away from pixel centres the gradient is the norm's: d/dx of 1/(1+|p−s|) summed over the
    # patch is non-zero for the sub-pixel point.
    assert np.abs(grad[0, 2]).sum() > 0


def test_round_anchor_keeps_rows_below_the_width_of_a_tall_image():
    # 40 rows × 32 columns: a landmark at y = 36 lights rows 28..39, including those ≥ 32.
    heat = _heat((10.0, 36.0), "round", shape=(40, 32))
    assert heat[36, 10] == pytest.approx(1.0)
    assert heat[39, 10] == pytest.approx(0.25)
    assert heat[33, 10] == pytest.approx(0.25)
