"""Landmark NME loss, the joint EmotionalDAN loss and the landmark evaluation metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ferjax import losses
from ferjax.evaluation import landmarks as metrics
from ferjax.losses.landmarks import landmark_nme, normalising_distance


def _face(rng, n=4):
    """Faces whose eye centroids are exactly 10 px apart and outer corners 14 px apart."""
    points = rng.uniform(0, 40, size=(n, 68, 2))
    points[:, 36:42] = [10.0, 20.0]
    points[:, 42:48] = [20.0, 20.0]
    points[:, 36] = [8.0, 20.0]
    points[:, 39] = [12.0, 20.0]
    points[:, 45] = [22.0, 20.0]
    points[:, 42] = [18.0, 20.0]
    return points.astype(np.float32)


def test_nme_is_zero_for_a_perfect_prediction_and_scale_invariant():
    rng = np.random.default_rng(0)
    target = jnp.asarray(rng.uniform(0, 100, size=(3, 68, 2)), jnp.float32)
    pred = target + jnp.asarray(rng.normal(0, 2, size=target.shape), jnp.float32)
    assert float(landmark_nme({"landmarks": target}, {"landmarks": target})) == 0.0
    small = landmark_nme({"landmarks": pred}, {"landmarks": target})
    large = landmark_nme({"landmarks": pred * 3.7}, {"landmarks": target * 3.7})
    assert float(small) > 0
    np.testing.assert_allclose(large, small, rtol=1e-5)


def test_nme_hand_computed_for_both_normalisations():
    target = _face(np.random.default_rng(1), n=2)
    np.testing.assert_allclose(normalising_distance(jnp.asarray(target)), [10.0, 10.0])
    np.testing.assert_allclose(normalising_distance(jnp.asarray(target), "inter_ocular"),
                               [14.0, 14.0])
    pred = target + np.array([3.0, 4.0], np.float32)  # every point 5 px off
    batch = {"landmarks": jnp.asarray(target)}
    assert float(landmark_nme({"landmarks": jnp.asarray(pred)}, batch)) == pytest.approx(0.5)
    assert float(landmark_nme({"landmarks": jnp.asarray(pred)}, batch,
                              normalisation="inter_ocular")) == pytest.approx(5.0 / 14.0)
    with pytest.raises(ValueError, match="normalisation 'pupil'"):
        landmark_nme({"landmarks": jnp.asarray(pred)}, batch, normalisation="pupil")


def test_nme_skips_padding_and_missing_landmarks_with_finite_gradients():
    target = _face(np.random.default_rng(2), n=3)
    target[1] = np.nan  # a dataset without landmarks for this face
    pred = jnp.asarray(np.nan_to_num(target) + np.array([3.0, 4.0], np.float32))
    pred = pred.at[2].add(100.0)  # padding example: huge error that must not count
    batch = {"landmarks": jnp.asarray(target), "weight": jnp.array([1.0, 1.0, 0.0])}
    value, grad = jax.value_and_grad(lambda p: landmark_nme({"landmarks": p}, batch))(pred)
    assert float(value) == pytest.approx(0.5)
    assert np.all(np.isfinite(grad))
    assert np.all(np.asarray(grad)[1:] == 0.0)


def test_all_stages_option_averages_the_stage_errors():
    target = jnp.asarray(_face(np.random.default_rng(3), n=2))
    stages = jnp.stack([target + jnp.array([3.0, 4.0]), target + jnp.array([6.0, 8.0])])
    outputs = {"landmarks": stages[-1], "stage_landmarks": stages}
    assert float(landmark_nme(outputs, {"landmarks": target})) == pytest.approx(1.0)
    assert float(landmark_nme(outputs, {"landmarks": target}, all_stages=True)) == \
        pytest.approx(0.75)


def test_joint_loss_is_alpha_nme_plus_beta_cross_entropy():
    target = jnp.asarray(_face(np.random.default_rng(4), n=2))
    logits = jnp.array([[2.0, 0.5, -1.0], [0.0, 1.0, 0.0]])
    labels = jnp.array([0, 2])
    outputs = {"landmarks": target + jnp.array([3.0, 4.0]), "logits": logits}
    batch = {"landmarks": target, "label": labels, "weight": jnp.ones(2)}
    total, parts = losses.total_loss(outputs, batch, {"landmark_nme": {"weight": 0.4},
                                                      "emotion_ce": {"weight": 0.6}})
    ce = -np.mean(np.take_along_axis(np.asarray(jax.nn.log_softmax(logits)),
                                     np.asarray(labels)[:, None], 1))
    assert float(parts["landmark_nme"]) == pytest.approx(0.5)
    assert float(parts["emotion_ce"]) == pytest.approx(ce, rel=1e-6)
    assert float(total) == pytest.approx(0.4 * 0.5 + 0.6 * ce, rel=1e-6)
    np.testing.assert_allclose(ce, optax.softmax_cross_entropy_with_integer_labels(
        logits, labels).mean(), rtol=1e-6)


def test_evaluation_nme_matches_the_loss():
    rng = np.random.default_rng(5)
    target = _face(rng, n=5)
    pred = target + rng.normal(0, 1.5, size=target.shape).astype(np.float32)
    errors = metrics.per_image_nme(pred, target)
    assert float(landmark_nme({"landmarks": jnp.asarray(pred)},
                              {"landmarks": jnp.asarray(target)})) == \
        pytest.approx(errors.mean(), rel=1e-5)
    summary = metrics.landmark_summary(pred, target)
    assert summary["nme_inter_pupil"] == pytest.approx(errors.mean())
    assert summary["nme_inter_ocular"] == pytest.approx(errors.mean() * 10.0 / 14.0, rel=1e-6)
    with pytest.raises(ValueError, match="must be \\(N, 68, 2\\)"):
        metrics.per_image_nme(pred[:, :60], target[:, :60])


def test_failure_rate_auc_and_ced():
    errors = np.array([0.0, 0.02, 0.04, 0.08, 0.2])
    assert metrics.failure_rate(errors, 0.08) == pytest.approx(0.2)
    # Exact AUC: mean of (θ − e)⁺ / θ = (1 + 0.75 + 0.5 + 0 + 0) / 5.
    assert metrics.auc(errors, 0.08) == pytest.approx(0.45)
    x, ced = metrics.cumulative_error_distribution(errors, 0.08, num_points=5)
    np.testing.assert_allclose(x, [0.0, 0.02, 0.04, 0.06, 0.08])
    np.testing.assert_allclose(ced, [0.2, 0.4, 0.6, 0.6, 0.8])
    # The exact AUC equals a fine numerical integral of the CED.
    x, ced = metrics.cumulative_error_distribution(errors, 0.08, num_points=80001)
    assert np.trapezoid(ced, x) / 0.08 == pytest.approx(0.45, abs=1e-4)
    assert metrics.auc([0.5], 0.08) == 0.0 and metrics.auc([0.0], 0.08) == 1.0
    with pytest.raises(ValueError, match="finite non-negative"):
        metrics.auc([0.1, np.nan])


def test_cross_dataset_prediction_and_table_layout():
    import flax.linen as nn

    from ferjax.data import pipeline, sources
    from ferjax.evaluation import cross_dataset

    class Brightness(nn.Module):  # class 1 when the mean pixel is above 0, else class 0
        @nn.compact
        def __call__(self, x, train=False):
            m = x.mean((1, 2, 3))
            return {"logits": jnp.stack([-m, m], -1)}

    rng = np.random.default_rng(0)
    records = [{"image": np.full((16, 16, 1), v, np.uint8), "label": np.int64(int(v > 128))}
               for v in rng.integers(0, 256, 11)]
    spec = pipeline.ExampleSpec((16, 16), 1, tuple(range(8)))
    norm = pipeline.Normalisation((0.5,), (0.25,))  # a "training set" statistic
    labels, predictions = cross_dataset.predict(Brightness(), {}, sources.ListSource(records),
                                                pipeline.EvalTransform(spec, norm), 4)
    assert len(labels) == 11  # padding of the last batch of 4 excluded
    expected = np.array([int(r["image"][0, 0, 0] / 255.0 > 0.5) for r in records])
    np.testing.assert_array_equal(predictions, expected)
    table = cross_dataset.table_markdown(
        {"EmotionalDAN": {"CK+": 0.736, "JAFFE": 0.465, "ISED": 0.62}, "CNN (2)": {"CK+": 0.628}},
        ["CK+", "JAFFE", "ISED"])
    assert table.splitlines()[0] == "| model | CK+ | JAFFE | ISED |"
    assert "| EmotionalDAN | 0.736 | 0.465 | 0.620 |" in table
    assert "| CNN (2) | 0.628 | — | — |" in table


def test_per_example_nme_defaults_to_inter_pupil_and_checks_shapes():
    from ferjax.losses.landmarks import per_example_nme
    target = jnp.asarray(_face(np.random.default_rng(3), n=2))
    pred = target.at[:, :, 0].add(3.0)   # every point 3 px off; eye centroids 10 px apart
    np.testing.assert_allclose(per_example_nme(pred, target), [0.3, 0.3], rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(B, 68, 2\)"):
        per_example_nme(pred[:1], target)          # batch sizes differ, last dims fine
    with pytest.raises(ValueError, match=r"\(B, 68, 2\)"):
        per_example_nme(pred[:, :67], target[:, :67])


def test_zero_weight_and_nan_landmark_examples_do_not_count():
    target = _face(np.random.default_rng(4), n=3)
    pred = target.copy()
    pred[0, :, 0] += 2.0                           # example 0: NME 0.2
    pred[1, :, 0] += 9.0                           # example 1: weight 0, valid landmarks
    target[2, 5] = np.nan                          # example 2: one landmark missing, weight 1
    pred[2, :, 0] += 9.0
    loss = landmark_nme({"landmarks": jnp.asarray(pred)},
                        {"landmarks": jnp.asarray(target), "weight": jnp.array([1.0, 0.0, 1.0])})
    np.testing.assert_allclose(loss, 0.2, rtol=1e-6)


def test_examples_count_by_their_own_normalising_distance_at_any_scale():
    # Landmarks in unit-free coordinates (eye centroids 0.1 apart) count like pixel ones.
    face = _face(np.random.default_rng(5), n=1)
    small = face / 100.0
    pred = small.copy()
    pred[0, :, 0] += 0.02                          # NME 0.2 of a 0.1 inter-pupil distance
    loss = landmark_nme({"landmarks": jnp.asarray(pred)}, {"landmarks": jnp.asarray(small)})
    np.testing.assert_allclose(loss, 0.2, rtol=1e-5)
    # A weighted example whose eyes coincide under the chosen normalisation is left out, not
    # divided by zero: here the outer corners meet while the eye centroids stay apart.
    corners_meet = face.copy()
    corners_meet[0, 45] = corners_meet[0, 36]
    target = np.concatenate([face, corners_meet])
    pred = target.copy()
    pred[0, :, 0] += 2.8                           # NME 0.2 of the 14 px outer-corner distance
    pred[1, :, 0] += 5.0
    # Inter-pupil: point 45 moved to x = 8 puts the left-eye centroid at x = 53/3, 23/3 px
    # from the right one, so example 1 counts with NME 5 / (23/3).
    for normalisation, expected in (("inter_ocular", 0.2),
                                    ("inter_pupil", (0.28 + 15.0 / 23.0) / 2)):
        loss = landmark_nme({"landmarks": jnp.asarray(pred)}, {"landmarks": jnp.asarray(target)},
                            normalisation=normalisation)
        np.testing.assert_allclose(loss, expected, rtol=1e-5)
    # All-zero landmarks with weight 1 (both distances 0) do not count either.
    target = np.concatenate([face, np.zeros_like(face)])
    loss = landmark_nme({"landmarks": jnp.asarray(target + 1.0)},
                        {"landmarks": jnp.asarray(target)}, normalisation="inter_pupil")
    np.testing.assert_allclose(loss, np.sqrt(2.0) / 10.0, rtol=1e-5)  # example 0 only
