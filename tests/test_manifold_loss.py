"""Gaussian manifold loss against hand-computed values, its invariants and its gradient."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.losses import get as get_loss
from ferjax.losses import manifold


def _loss(z, labels, **options):
    outputs = {"embedding": jnp.asarray(z, jnp.float32)}
    batch = {"label": jnp.asarray(labels, jnp.int32)}
    options.setdefault("num_classes", 2)
    return float(manifold.gaussian_manifold(outputs, batch, **options))


def _two_point_error(near_sq, far_sq, sigma):
    # Example of class a at squared distances near_sq to μ_a and far_sq to μ_b:
    # p_a = 1 / (1 + exp(-(far - near) / 2σ²)), error = (p_a − 1)² + p_b² = 2 (1 − p_a)².
    p_a = 1.0 / (1.0 + math.exp(-(far_sq - near_sq) / (2 * sigma ** 2)))
    return 2 * (1 - p_a) ** 2


# 1-D embeddings 0, 1 (class 0) and 1, 2 (class 1): μ0 = 0.5, μ1 = 1.5. The outer points sit
# at squared distances 0.25 / 2.25, the inner ones halfway (p = ½ each, error ½).
Z = [[0.0], [1.0], [1.0], [2.0]]
LABELS = [0, 0, 1, 1]


def test_two_classes_matches_hand_computation():
    expected = (2 * _two_point_error(0.25, 2.25, 0.5) + 2 * 0.5) / 4
    assert expected == pytest.approx(0.250323, abs=1e-6)  # e^-4 written out by hand
    assert _loss(Z, LABELS, sigma=0.5) == pytest.approx(expected, rel=1e-5)


def test_sigma_changes_the_value_as_the_formula_says():
    expected = (2 * _two_point_error(0.25, 2.25, 1.0) + 2 * 0.5) / 4
    assert expected == pytest.approx((2 * 2 * (1 - 1 / (1 + math.exp(-1))) ** 2 + 1) / 4)
    assert _loss(Z, LABELS, sigma=1.0) == pytest.approx(expected, rel=1e-5)
    assert _loss(Z, LABELS, sigma=1.0) > _loss(Z, LABELS, sigma=0.5)


def test_absent_class_gets_zero_probability():
    # A third class missing from the batch must change nothing (p = 0, target 0).
    assert _loss(Z, LABELS, sigma=0.5, num_classes=3) == pytest.approx(
        _loss(Z, LABELS, sigma=0.5, num_classes=2), rel=1e-6)
    z = jnp.asarray(Z, jnp.float32)
    centroids, present = manifold.batch_centroids(
        z, jax.nn.one_hot(jnp.asarray(LABELS), 3))
    probs = manifold.gaussian_posteriors(z, centroids, present, 0.5)
    np.testing.assert_array_equal(np.asarray(present), [True, True, False])
    np.testing.assert_allclose(np.asarray(probs[:, 2]), 0.0)
    np.testing.assert_allclose(np.asarray(probs.sum(-1)), 1.0, rtol=1e-6)


def test_zero_when_each_embedding_sits_on_its_separated_centroid():
    z = [[0.0, 0.0], [0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [0.0, 10.0]]
    loss = _loss(z, [0, 0, 1, 2, 2], sigma=0.5, num_classes=3)
    assert loss == pytest.approx(0.0, abs=1e-12)


def test_far_apart_embeddings_do_not_underflow_to_nan():
    loss = _loss([[0.0], [1000.0]], [0, 1], sigma=0.5)
    assert loss == pytest.approx(0.0, abs=1e-12)


def test_padding_examples_do_not_contribute():
    outputs = {"embedding": jnp.asarray(Z + [[50.0]], jnp.float32)}
    batch = {"label": jnp.asarray(LABELS + [1]), "weight": jnp.asarray([1, 1, 1, 1, 0.0])}
    padded = float(manifold.gaussian_manifold(outputs, batch, num_classes=2))
    assert padded == pytest.approx(_loss(Z, LABELS), rel=1e-6)


def test_gradient_matches_finite_differences():
    z0 = np.array([[0.3, -0.2], [0.9, 0.4], [1.1, 0.2], [1.6, -0.5], [0.2, 0.8]], np.float32)
    labels = jnp.asarray([0, 0, 1, 1, 2])

    @jax.jit
    def f(z):
        return manifold.gaussian_manifold({"embedding": z}, {"label": labels},
                                          sigma=0.5, num_classes=4)

    grad = np.asarray(jax.grad(f)(jnp.asarray(z0)))
    eps = 1e-2
    numeric = np.zeros_like(z0)
    for index in np.ndindex(z0.shape):
        plus, minus = z0.copy(), z0.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (float(f(jnp.asarray(plus))) - float(f(jnp.asarray(minus)))) / (2 * eps)
    assert np.all(np.isfinite(grad))
    assert np.abs(grad).max() > 1e-3  # the check is not vacuous
    np.testing.assert_allclose(grad, numeric, rtol=2e-2, atol=2e-3)


def test_mixup_is_deterministic_per_key_and_off_without_one():
    outputs = {"embedding": jnp.asarray(Z, jnp.float32)}
    batch = {"label": jnp.asarray(LABELS), "rng": jax.random.key(3)}
    a = manifold.gaussian_manifold(outputs, batch, num_classes=2, mixup=True)
    b = manifold.gaussian_manifold(outputs, dict(batch), num_classes=2, mixup=True)
    c = manifold.gaussian_manifold(outputs, batch, num_classes=2, mixup=True,
                                   rng=jax.random.key(4))
    assert float(a) == float(b)
    assert float(a) != float(c)
    assert 0.0 <= float(a) <= 2.0
    no_key = manifold.gaussian_manifold(outputs, {"label": batch["label"]}, num_classes=2,
                                        mixup=True)
    assert float(no_key) == pytest.approx(_loss(Z, LABELS))
    # The trainer's key arrives as batch["rng"]: it turns mixup on, as the option key does.
    assert float(a) != pytest.approx(float(no_key))
    assert float(a) == float(manifold.gaussian_manifold(outputs, {"label": batch["label"]},
                                                        num_classes=2, mixup=True,
                                                        rng=jax.random.key(3)))


@pytest.mark.parametrize("pairing", ["soft", "code"])
def test_mixup_ignores_the_embedding_of_a_padding_example(pairing):
    # A weight-0 row (padding) and every mixed row it takes part in are left out of the
    # centroids and of the mean, so where its embedding lies cannot matter.
    labels = jnp.asarray(LABELS + [1])
    weight = jnp.asarray([1.0, 1.0, 1.0, 1.0, 0.0])

    def loss(pad):
        z = jnp.asarray(Z + [[pad]], jnp.float32)
        return float(manifold.gaussian_manifold(
            {"embedding": z}, {"label": labels, "weight": weight}, num_classes=2, mixup=True,
            mixup_pairing=pairing, rng=jax.random.key(3)))

    assert loss(0.5) == pytest.approx(loss(40.0), rel=1e-6)


def test_registered_and_validates_options():
    assert get_loss("gaussian_manifold") is manifold.gaussian_manifold
    with pytest.raises(ValueError, match="sigma"):
        _loss(Z, LABELS, sigma=0.0)


def _reference_loss(z, one_hot, centroid_targets, sigma):
    """mean_i Σ_j (p_ij − y_ij)², centroids from the first len(centroid_targets) rows of z."""
    counts = centroid_targets.sum(0)
    present = counts > 0
    mu = centroid_targets.T @ z[:len(centroid_targets)] / np.maximum(counts, 1)[:, None]
    d2 = ((z[:, None] - mu[None]) ** 2).sum(-1)
    e = np.where(present, np.exp(-d2 / (2 * sigma ** 2)), 0.0)
    p = e / e.sum(1, keepdims=True)
    return ((p - one_hot) ** 2).sum(1).mean()


@pytest.mark.parametrize("pairing,labels", [
    ("soft", [0, 2, 1, 2, 0, 1]), ("code", [0, 2, 1, 2, 0, 1]),
    ("code", [2, 2, 2, 2, 1, 1]),    # pairs that share a label keep a one-hot target
])
def test_mixup_pairings_match_hand_computation(pairing, labels):
    labels = np.array(labels)
    z = np.random.default_rng(0).normal(size=(6, 2))
    key = jax.random.key(5)
    key_lambda, key_perm = jax.random.split(key)
    lam = float(jax.random.beta(key_lambda, 2.0, 2.0))
    perm = np.asarray(jax.random.permutation(key_perm, 6))
    assert not np.array_equal(perm, np.arange(6))
    one_hot = np.eye(3)[labels]
    z_all = np.concatenate([z, lam * z + (1 - lam) * z[perm]])
    if pairing == "soft":
        targets = np.concatenate([one_hot, lam * one_hot + (1 - lam) * one_hot[perm]])
        expected = _reference_loss(z_all, targets, one_hot, 0.5)
    else:
        # Integer labels mixed: rows with two different labels match no class (zero targets).
        mixed = lam * labels + (1 - lam) * labels[perm]
        targets = np.concatenate([one_hot, (mixed[:, None] == np.arange(3)).astype(float)])
        assert targets[6:].sum() == np.sum(labels == labels[perm])
        if labels[0] == 2:
            assert targets[6:].sum() > 0
        expected = _reference_loss(z_all, targets, targets, 0.5)
    got = manifold.gaussian_manifold({"embedding": jnp.asarray(z, jnp.float32)},
                                     {"label": jnp.asarray(labels)}, num_classes=3, mixup=True,
                                     mixup_pairing=pairing, rng=key)
    assert float(got) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="mixup_pairing"):
        manifold.gaussian_manifold({"embedding": jnp.asarray(z, jnp.float32)},
                                   {"label": jnp.asarray(labels)}, num_classes=3,
                                   mixup_pairing="hard")


def test_far_embeddings_still_sum_to_one_where_the_code_guard_would_bite():
    # Σπ = exp(-40) ≈ 4e-18 ≪ 1e-15: the code's p would be ≈ 0.004; ferjax's rows sum to 1.
    z = jnp.asarray([[0.0]])
    mu = jnp.asarray([[np.sqrt(80 * 0.25)], [np.sqrt(80 * 0.25) + 1.0]])
    p = manifold.gaussian_posteriors(z, mu, jnp.asarray([True, True]), 0.5)
    assert float(p.sum()) == pytest.approx(1.0, rel=1e-6)


def test_batch_centroids_by_hand_with_a_single_example_class():
    from ferjax.losses.manifold import batch_centroids
    embeddings = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    targets = jnp.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]])
    centroids, present = batch_centroids(embeddings, targets)
    np.testing.assert_allclose(centroids, [[2.0, 3.0], [5.0, 6.0], [0.0, 0.0]])
    np.testing.assert_array_equal(present, [True, True, False])


def test_mixup_is_off_by_default_even_with_a_key_and_a_missing_embedding_is_named():
    z = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    labels = [0, 1, 0, 1]
    outputs = {"embedding": jnp.asarray(z, jnp.float32)}
    plain = manifold.gaussian_manifold(outputs, {"label": jnp.asarray(labels)}, num_classes=2)
    keyed = manifold.gaussian_manifold(
        outputs, {"label": jnp.asarray(labels), "rng": jax.random.key(0)}, num_classes=2)
    assert float(keyed) == float(plain)
    with pytest.raises(ValueError, match=r"outputs\['embedding'\]"):
        manifold.gaussian_manifold({"logits": jnp.zeros((4, 2))}, {"label": jnp.asarray(labels)})


def test_num_classes_comes_from_the_logits_when_not_given():
    z = jnp.asarray([[0.0, 0.0], [1.0, 0.5]], jnp.float32)
    batch = {"label": jnp.asarray([0, 2])}
    from_logits = manifold.gaussian_manifold({"embedding": z, "logits": jnp.zeros((2, 3))}, batch)
    np.testing.assert_allclose(from_logits,
                               manifold.gaussian_manifold({"embedding": z}, batch, num_classes=3))
    # Each example sits on its own class's centroid, the other at |Δ|² = 1.25: the wrong class
    # gets q = e/(1 + e) with e = exp(−1.25/(2·0.5²)), and the loss is 2q².
    q = math.exp(-2.5) / (1 + math.exp(-2.5))
    assert float(from_logits) == pytest.approx(2 * q * q, rel=1e-4)
    two = manifold.gaussian_manifold({"embedding": z}, batch, num_classes=2)
    assert float(two) != float(from_logits)
    with pytest.raises(ValueError, match="num_classes"):
        manifold.gaussian_manifold({"embedding": z}, batch)
