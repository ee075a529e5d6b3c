"""Test-time augmentation: crop offsets and views by hand, probability averaging, mirror
invariance, the size check, and the trainer's eval step under TTA."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.data import pipeline
from ferjax.evaluation import tta
from ferjax.train import tta_step


def _image(h=5, w=6):
    """(h, w, 1) image whose pixel value is 10·row + column."""
    return (10 * np.arange(h)[:, None] + np.arange(w)[None, :]).astype(np.float32)[..., None]


def test_ten_crop_offsets_and_views_by_hand():
    assert tta.crop_offsets("ten_crop", (5, 6), (3, 4)) == ((1, 1), (0, 0), (0, 2), (2, 0),
                                                            (2, 2))
    assert tta.crop_offsets("flip", (5, 6), (3, 4)) == ((1, 1),)
    v = tta.views(_image(), "ten_crop", (3, 4))[..., 0]
    assert v.shape == (10, 3, 4)
    np.testing.assert_array_equal(v[0], [[11, 12, 13, 14], [21, 22, 23, 24], [31, 32, 33, 34]])
    np.testing.assert_array_equal(v[1], v[0][:, ::-1])      # each crop, then its mirror
    np.testing.assert_array_equal(v[2], [[0, 1, 2, 3], [10, 11, 12, 13], [20, 21, 22, 23]])
    np.testing.assert_array_equal(v[4], [[2, 3, 4, 5], [12, 13, 14, 15], [22, 23, 24, 25]])
    np.testing.assert_array_equal(v[6], [[20, 21, 22, 23], [30, 31, 32, 33], [40, 41, 42, 43]])
    np.testing.assert_array_equal(v[8], [[22, 23, 24, 25], [32, 33, 34, 35], [42, 43, 44, 45]])
    np.testing.assert_array_equal(v[9], v[8][:, ::-1])
    # The centre view is the evaluation's centre crop.
    spec = pipeline.ExampleSpec((3, 4), 1, tuple(range(8)))
    centre = pipeline.EvalTransform(spec, pipeline.Normalisation((0.0,), (1.0,))).map(
        {"image": _image(), "label": 0})["image"]
    np.testing.assert_array_equal(centre[..., 0], v[0])
    assert tta.views(_image(), "none", (3, 4)).shape == (1, 3, 4, 1)


def test_probabilities_not_logits_are_averaged():
    logits = jnp.array([[[4.0, 0.0], [-1.0, 0.0]]])
    p1 = np.exp([4.0, 0.0]) / np.exp([4.0, 0.0]).sum()
    p2 = np.exp([-1.0, 0.0]) / np.exp([-1.0, 0.0]).sum()
    np.testing.assert_allclose(tta.average_probabilities(logits)[0], (p1 + p2) / 2, rtol=1e-6)
    # Three views where the two rules disagree: mean logits (2, 0) choose class 0; mean
    # probability of class 0 = (σ(10) + 2·σ(-2)) / 3 = (0.9999546 + 2·0.1192029) / 3 = 0.41279.
    logits = jnp.array([[[10.0, 0.0], [-2.0, 0.0], [-2.0, 0.0]]])
    assert int(jnp.argmax(jnp.mean(logits, 1)[0])) == 0
    probabilities = tta.average_probabilities(logits)[0]
    np.testing.assert_allclose(probabilities, [0.41279, 0.58721], atol=1e-5)
    assert int(jnp.argmax(probabilities)) == 1


def _symmetric_model(x):
    """A random conv whose output is summed with that of the mirror image: mirror-invariant
    logits; (N, h, w, 1) -> {"logits": (N, 3)}."""
    kernel = jax.random.normal(jax.random.key(0), (3, 3, 1, 3))

    def g(images):
        y = jax.lax.conv_general_dilated(images, kernel, (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jnp.tanh(y).mean(axis=(1, 2))

    return {"logits": g(x) + g(x[:, :, ::-1])}


def test_flip_tta_of_a_mirror_symmetric_model_equals_no_tta():
    images = jax.random.uniform(jax.random.key(1), (4, 7, 6, 1))
    flip_views = jnp.stack([images, images[:, :, ::-1]], axis=1)
    with_tta = tta.view_probabilities(_symmetric_model, flip_views)
    without = jax.nn.softmax(_symmetric_model(images)["logits"], -1)
    np.testing.assert_allclose(with_tta, without, rtol=1e-6, atol=1e-7)
    # Not vacuous: a model that is not symmetric changes.
    asymmetric = lambda x: {"logits": x[:, :, :3, 0].mean(axis=1)}  # noqa: E731
    assert not np.allclose(tta.view_probabilities(asymmetric, flip_views),
                           jax.nn.softmax(asymmetric(images)["logits"], -1))


def test_sizes_a_mode_cannot_support_are_named():
    with pytest.raises(ValueError, match=r"config.eval.tta='ten_crop' needs stored images larger "
                                         r"than the crop in both sides: the images are 48x48 and "
                                         r"config.data.crop_size is 48x48"):
        tta.check("ten_crop", (48, 48), (48, 48))
    with pytest.raises(ValueError, match="images are 48x48 and config.data.crop_size is 44x48"):
        tta.check("ten_crop", (48, 48), (44, 48))
    tta.check("ten_crop", (48, 48), (44, 44))
    tta.check("flip", (48, 48), (48, 48))
    with pytest.raises(ValueError, match="crop_size=50x50 is larger than the stored 48x48"):
        tta.check("flip", (48, 48), (50, 50))
    with pytest.raises(ValueError, match=r"config.eval.tta='mirror'; expected one of"):
        tta.check("mirror", (48, 48), (44, 44))


class _State:
    """The fields of a train state eval steps read; logits: mean of the left half, mean of the
    right half, and a constant `weight`."""

    def __init__(self, weight):
        self.params, self.batch_stats, self.weight = {}, {}, weight

    def apply_fn(self, variables, x, train):
        return {"logits": jnp.stack([x[:, :, :2, 0].mean((1, 2)), x[:, :, 2:, 0].mean((1, 2)),
                                     self.weight * jnp.ones(x.shape[0])], -1)}


def test_trainer_eval_step_predicts_from_the_views_and_keeps_centre_losses():
    spec = pipeline.ExampleSpec((4, 4), 1, tuple(range(8)))
    norm = pipeline.Normalisation((0.0,), (1.0,))
    image = np.zeros((6, 6, 1), np.float32)
    image[:, 4:] = 1.0  # bright right edge: only the right crops see it on their right half
    transform = tta.eval_transform(spec, norm, "ten_crop")
    example = transform.map({"image": image, "label": 1})
    assert example["views"].shape == (10, 4, 4, 1)
    np.testing.assert_array_equal(example["views"][0], example["image"])
    batch = {k: jnp.asarray(np.stack([v])) for k, v in example.items()}
    state = _State(0.3)
    plain = functools.partial(tta_step.eval_step_fn("none"), loss_terms={
        "emotion_ce": {"weight": 1.0}})
    tested = functools.partial(tta_step.eval_step_fn("ten_crop"), loss_terms={
        "emotion_ce": {"weight": 1.0}})
    a = plain(state, {k: v for k, v in batch.items() if k != "views"})
    b = tested(state, batch)
    np.testing.assert_allclose(a["loss_sum"], b["loss_sum"])  # losses: centre crop only
    views = jnp.asarray(example["views"])
    expected = jnp.argmax(jnp.mean(jax.nn.softmax(state.apply_fn(None, views, False)["logits"],
                                                  -1), 0))
    assert int(b["prediction"][0]) == int(expected)
    # The centre crop's bright right column gives class 1; the views' mirrors swap classes 0
    # and 1, so their averaged probabilities tie and the constant class 2 wins.
    assert int(a["prediction"][0]) == 1 and int(b["prediction"][0]) == 2
