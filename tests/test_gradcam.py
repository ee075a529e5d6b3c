"""Class-specific Grad-CAM and the AU-landmark analysis (EmotionalDAN §5)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.explain import au_landmarks
from ferjax.explain.gradcam import grad_cam, jit_grad_cam
from ferjax.models import build_model


class _Features(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Conv(2, (1, 1), use_bias=False, name="conv")(x)


class _Tiny(nn.Module):
    """A = 1×1 conv of the image, logits = W·GAP(A): Grad-CAM has a closed form."""

    @nn.compact
    def __call__(self, x, train=False):
        a = _Features(name="features")(x)
        return {"logits": nn.Dense(3, use_bias=False, name="head")(a.mean((1, 2)))}


def _tiny_variables():
    head = np.array([[1.0, -1.0, 0.5], [-2.0, 1.0, 0.5]], np.float32)  # (k=2, classes=3)
    return {"params": {"features": {"conv": {"kernel": jnp.eye(2).reshape(1, 1, 2, 2)}},
                       "head": {"kernel": jnp.asarray(head)}}}, head


def test_grad_cam_of_a_tiny_model_has_the_closed_form_answer():
    variables, head = _tiny_variables()
    images = np.random.default_rng(0).uniform(0, 1, size=(2, 4, 4, 2)).astype(np.float32)
    model = _Tiny()
    for target in range(3):
        cams, logits = grad_cam(model, variables, jnp.asarray(images), "features",
                                jnp.full((2,), target), resize=False)
        # ∂y_c/∂A_k(i, j) = W[k, c]/16, so α_k = W[k, c]/16 and cam ∝ ReLU(Σ_k W[k, c]·A_k).
        expected = np.maximum(np.einsum("bhwk,k->bhw", images, head[:, target]), 0)
        peak = expected.max((1, 2), keepdims=True)
        expected = np.where(peak > 0, expected / np.where(peak > 0, peak, 1), 0)
        np.testing.assert_allclose(cams, expected, atol=1e-6)
        np.testing.assert_allclose(logits, images.mean((1, 2)) @ head, atol=1e-6)
    # Class-specific: the sum of all logits (the authors' code) gives another map.
    summed = np.maximum(np.einsum("bhwk,k->bhw", images, head.sum(1)), 0)
    summed /= summed.max((1, 2), keepdims=True)
    cam_0, _ = grad_cam(model, variables, jnp.asarray(images), "features", jnp.zeros(2, int),
                        resize=False)
    assert np.abs(np.asarray(cam_0) - summed).max() > 0.1


def test_grad_cam_defaults_to_predicted_classes_and_resizes():
    variables, head = _tiny_variables()
    images = np.zeros((1, 4, 4, 2), np.float32)
    images[0, 1, 2] = (1.0, 0.0)  # class 0 wins, its map peaks at row 1, column 2
    cams, logits = grad_cam(_Tiny(), variables, jnp.asarray(images), "features")
    assert int(jnp.argmax(logits[0])) == 0
    assert cams.shape == (1, 4, 4)
    assert float(cams[0, 1, 2]) == pytest.approx(1.0)
    assert float(cams.sum()) == pytest.approx(1.0)


def test_unknown_layer_is_named_with_the_known_paths():
    variables, _ = _tiny_variables()
    with pytest.raises(ValueError, match="'stage_2/conv4a'.*features/conv"):
        grad_cam(_Tiny(), variables, jnp.zeros((1, 4, 4, 2)), "stage_2/conv4a",
                 jnp.zeros(1, int))


def test_grad_cam_on_the_last_stage_of_emotional_dan():
    rng = np.random.default_rng(1)
    mean = rng.uniform(8, 24, size=(68, 2))
    model = build_model({"name": "emotional_dan", "base_channels": 2, "fc_units": 8},
                        {"num_classes": 7, "mean_landmarks": mean})
    images = jnp.asarray(rng.normal(size=(2, 32, 32, 1)), jnp.float32)
    variables = jax.jit(model.init)(jax.random.key(0), images)
    cams, logits = jit_grad_cam(model, "stage_2/conv4a")(variables, images, jnp.array([1, 3]))
    assert cams.shape == (2, 32, 32) and logits.shape == (2, 7)
    assert float(cams.min()) >= 0.0 and float(cams.max()) <= 1.0 + 1e-6
    assert np.all(np.isfinite(np.asarray(cams)))


def test_code_au_sets_reproduce_the_table_5_denominators():
    sets = au_landmarks.au_landmark_sets("code")
    for layer, row in au_landmarks.PAPER_TABLE5.items():
        for emotion, score in row.items():
            if emotion != "average":
                hits = score * len(sets[emotion])
                assert abs(hits - round(hits)) < 0.02, (layer, emotion)
    paper = au_landmarks.au_landmark_sets("paper")
    assert paper["happy"] == frozenset({1, 2, 14, 15, 48, 49, 53, 54, 55, 59, 60, 64})
    assert len(paper["anger"]) == 10 + 6 + 20  # brows, upper lids, lips: disjoint
    with pytest.raises(ValueError, match="'table'"):
        au_landmarks.au_landmark_sets("table")


def test_frontal_selection_and_landmark_activation_windows():
    landmarks = np.zeros((3, 68, 2))
    landmarks[:, 36] = [10.0, 10.0]
    landmarks[:, 45] = [30.0, 10.0]
    landmarks[2, 45] = [40.0, 10.0]  # a turned face: its corner is far from the mean
    frontal = au_landmarks.frontal_mask(landmarks, epsilon=5.0)
    np.testing.assert_array_equal(frontal, [True, True, False])
    keep = au_landmarks.selection_mask(np.array([1, 0, 1]), np.array([1, 0, 1]), landmarks, 5.0)
    np.testing.assert_array_equal(keep, [True, False, False])  # neutral and non-frontal out

    cams = np.zeros((1, 8, 8))
    cams[0, 3, 4] = 1.0
    cams[0, 0, 0] = 5.0
    points = np.zeros((1, 68, 2))
    points[0, 0] = (4.0, 3.0)   # centred on the unit pixel
    points[0, 1] = (5.4, 4.4)   # diagonal neighbour: still inside its 3×3 window
    points[0, 2] = (6.0, 3.0)   # two columns away: outside
    points[0, 3] = (0.0, 0.0)   # corner: window clipped at the border
    act = au_landmarks.landmark_activations(cams, points, window=3)
    np.testing.assert_allclose(act[0, :4], [1.0, 1.0, 0.0, 5.0])
    with pytest.raises(ValueError, match="odd"):
        au_landmarks.landmark_activations(cams, points, window=2)


def test_overlap_table_and_cam_mass_in_au_regions():
    activations = np.zeros(68)
    activations[[48, 54, 1, 30]] = [4.0, 3.0, 2.0, 1.0]
    sets = au_landmarks.au_landmark_sets("paper")
    # k = 12: the 3 AU landmarks with non-zero activation are in the top 12; the 9 zero
    # entries are taken in index order (0, 2, 3, ...), of which only 2 is in the set.
    assert au_landmarks.top_k_overlap(activations, sets["happy"]) == pytest.approx(4 / 12)
    row = au_landmarks.au_overlap_table({"happy": activations, "neutral": activations})
    assert set(row) == {"happy", "average"} and row["average"] == row["happy"]
    with pytest.raises(ValueError, match="nothing to score"):
        au_landmarks.au_overlap_table({"neutral": activations})

    regions = np.zeros((1, 2, 2), np.uint16)
    regions[0, 0, 0] = 0b01  # AU 0 changed the top-left 4×4 cell
    regions[0, 1, 1] = 0b10  # AU 1 (inactive in this face) the bottom-right one
    masks = au_landmarks.au_region_masks(regions, np.array([[0.7, 0.0]]), (8, 8))
    assert masks.shape == (1, 8, 8) and masks.sum() == 16 and masks[0, :4, :4].all()
    cams = np.ones((1, 8, 8))
    np.testing.assert_allclose(au_landmarks.cam_mass_in_regions(cams, masks), [0.25])
    assert np.isnan(au_landmarks.cam_mass_in_regions(np.zeros((1, 8, 8)), masks)[0])


def test_emotional_dan_grad_cam_values_match_the_layer_and_the_formula():
    from ferjax.explain import gradcam
    rng = np.random.default_rng(2)
    model = build_model({"name": "emotional_dan", "base_channels": 2, "fc_units": 8},
                        {"num_classes": 7, "mean_landmarks": rng.uniform(8, 24, size=(68, 2))})
    images = jnp.asarray(rng.normal(size=(2, 32, 32, 1)), jnp.float32)
    variables = jax.jit(model.init)(jax.random.key(0), images)
    targets = jnp.array([1, 3])
    activation, gradient, logits = jax.jit(
        lambda v, x: gradcam.activation_and_gradient(model, v, x, "stage_2/conv4a", targets))(
        variables, images)
    # A is stage 2's conv4a block output (post-BN), as Flax records it.
    _, state = model.apply(variables, images, capture_intermediates=True, mutable=["intermediates"])
    recorded = state["intermediates"]["stage_2"]["conv4a"]["__call__"][0]
    np.testing.assert_allclose(activation, recorded, rtol=1e-5, atol=1e-6)
    # Linear in the score: the gradient for targets (1, 3) is the sum of the per-class ones.
    per_class = [jax.jit(lambda v, x, t: gradcam.activation_and_gradient(
        model, v, x, "stage_2/conv4a", t)[1])(variables, images, jnp.full((2,), c))
        for c in (1, 3)]
    np.testing.assert_allclose(gradient[0], per_class[0][0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gradient[1], per_class[1][1], rtol=1e-5, atol=1e-7)
    # The map is ReLU(Σ_k mean(∂y/∂A_k)·A_k) over its maximum, for each image's own target.
    cams, _ = jit_grad_cam(model, "stage_2/conv4a", resize=False)(variables, images, targets)
    a, g = np.asarray(activation, np.float64), np.asarray(gradient, np.float64)
    expected = np.maximum(np.einsum("bhwk,bk->bhw", a, g.mean(axis=(1, 2))), 0)
    expected /= np.maximum(expected.max(axis=(1, 2), keepdims=True), 1e-30)
    np.testing.assert_allclose(cams, expected, atol=1e-5)
    other, _ = jit_grad_cam(model, "stage_2/conv4a", resize=False)(variables, images,
                                                                  jnp.array([2, 5]))
    assert np.abs(np.asarray(other) - np.asarray(cams)).max() > 1e-3  # class-specific
