"""In-step batch augmentation on tiny arrays: values by hand, invariants, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.data import batch_augment as ba


def _images(b=3, h=5, w=6):
    return jnp.arange(b * h * w, dtype=jnp.float32).reshape(b, h, w, 1) + 1.0


def test_erase_sets_exactly_the_box_to_zero_where_applied():
    images = _images(2)
    boxes = jnp.array([[1, 2, 2, 3], [0, 0, 5, 6]])
    out = np.asarray(ba.erase(images, boxes, jnp.array([True, False])))
    expected = np.asarray(images).copy()
    expected[0, 1:3, 2:5] = 0.0
    np.testing.assert_array_equal(out, expected)


def test_random_erasing_boxes_fit_and_have_the_papers_area():
    boxes = np.asarray(ba.erase_boxes(jax.random.key(0), 500, 48, 48))
    top, left, h, w = boxes.T
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + h <= 48).all() and (left + w <= 48).all() and (h >= 1).all()
    area = h * w / 48 ** 2
    assert area.min() > 0.01 and area.max() < 0.34   # U(0.02, 0.33), rounding, clipped sides
    out = np.asarray(ba.random_erasing(_images(4, 8, 8), jax.random.key(1), 1.0))
    assert ((out == 0).sum(axis=(1, 2, 3)) > 0).all()
    np.testing.assert_array_equal(ba.random_erasing(_images(), jax.random.key(1), 0.0),
                                  _images())


def test_mix_by_hand():
    batch = {"image": _images(2, 1, 1), "label": jnp.array([3, 5])}
    out = ba.mix(batch, jnp.array([1, 0]), 0.25)
    np.testing.assert_allclose(out["image"][:, 0, 0, 0], [0.25 * 1 + 0.75 * 2,
                                                           0.25 * 2 + 0.75 * 1])
    np.testing.assert_array_equal(out["mix_label"], [5, 3])
    assert float(out["mix_lambda"]) == 0.25
    mixed = ba.mixup(batch, jax.random.key(0), 0.4)
    assert 0.0 <= float(mixed["mix_lambda"]) <= 1.0
    assert sorted(np.asarray(mixed["mix_label"]).tolist()) == [3, 5]


def test_translate_is_a_window_of_the_reflect_padded_image():
    images = _images(4)
    out = np.asarray(ba.random_translate(images, jax.random.key(0), 2))
    padded = np.pad(np.asarray(images), ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    for i in range(4):
        windows = [padded[i, y:y + 5, x:x + 6] for y in range(5) for x in range(5)]
        assert any(np.array_equal(out[i], w) for w in windows)


def test_rotation_by_a_right_angle_and_by_zero():
    images = _images(1, 5, 5)
    np.testing.assert_allclose(ba.rotate(images, jnp.array([np.pi / 2]))[0, ..., 0],
                               np.rot90(np.asarray(images)[0, ..., 0]), atol=1e-4)
    np.testing.assert_allclose(ba.rotate(images, jnp.zeros(1)), images, atol=1e-5)


def test_apply_is_deterministic_per_key_and_checks_its_input():
    batch = {"image": _images(), "label": jnp.arange(3)}
    options = {"translate": 1, "rotation": 5.0, "erasing": 0.5, "mixup": 0.2}
    a = ba.apply(batch, jax.random.key(3), options)
    b = ba.apply(batch, jax.random.key(3), options)
    np.testing.assert_array_equal(a["image"], b["image"])
    off = ba.apply(batch, jax.random.key(3), {"translate": 0, "rotation": 0.0})
    np.testing.assert_array_equal(off["image"], batch["image"])
    assert "mix_label" not in off
    with pytest.raises(ValueError, match="unknown options \\['cutmix'\\]"):
        ba.apply(batch, jax.random.key(0), {"cutmix": 1.0})
    with pytest.raises(ValueError, match="batch_augment.erasing=1.5"):
        ba.apply(batch, jax.random.key(0), {"erasing": 1.5})
    with pytest.raises(ValueError, match="\\['landmarks'\\]"):
        ba.apply({**batch, "landmarks": jnp.zeros((3, 68, 2))}, jax.random.key(0),
                 {"rotation": 5.0})
