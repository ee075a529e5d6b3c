"""Emotion cross-entropy against hand-computed values: weights, label smoothing, registry."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.losses import classification
from ferjax.losses import get as get_loss

LOGITS = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0], [1.0, -2.0, 0.0]], np.float32)
LABELS = np.array([0, 1, 2])


def _ce_by_hand(logits, labels, smoothing=0.0):
    out = []
    for row, y in zip(logits.astype(np.float64), labels):
        log_p = row - math.log(np.exp(row).sum())
        target = np.full(len(row), smoothing / len(row))
        target[y] += 1.0 - smoothing
        out.append(-(target * log_p).sum())
    return np.array(out)


def _loss(**batch_and_options):
    options = {k: batch_and_options.pop(k) for k in list(batch_and_options)
               if k == "label_smoothing"}
    batch = {"label": jnp.asarray(LABELS), **batch_and_options}
    return float(classification.emotion_cross_entropy({"logits": jnp.asarray(LOGITS)}, batch,
                                                      **options))


def test_mean_cross_entropy_by_hand():
    assert _loss() == pytest.approx(_ce_by_hand(LOGITS, LABELS).mean(), rel=1e-6)


def test_zero_weight_examples_do_not_count():
    per_example = _ce_by_hand(LOGITS, LABELS)
    got = _loss(weight=jnp.asarray([1.0, 0.0, 1.0]))
    assert got == pytest.approx((per_example[0] + per_example[2]) / 2, rel=1e-6)
    weighted = _loss(weight=jnp.asarray([2.0, 1.0, 1.0]))
    assert weighted == pytest.approx((2 * per_example[0] + per_example[1] + per_example[2]) / 4,
                                     rel=1e-6)
    assert _loss(weight=jnp.zeros(3)) == 0.0  # an all-padding batch: no division by zero


def test_label_smoothing_by_hand():
    expected = _ce_by_hand(LOGITS, LABELS, 0.3).mean()
    assert _loss(label_smoothing=0.3) == pytest.approx(expected, rel=1e-6)


def test_one_hot_and_registry():
    np.testing.assert_array_equal(classification.jax_one_hot(jnp.asarray([2, 0]), 3),
                                  [[0, 0, 1], [1, 0, 0]])
    assert get_loss("emotion_ce") is classification.emotion_cross_entropy


def test_batch_and_class_counts_differ_and_one_example_is_its_own_mean():
    logits = LOGITS[:2]  # B = 2 examples of K = 3 classes: no axis mix-up can go unnoticed
    per_example = _ce_by_hand(logits, LABELS[:2])
    got = classification.emotion_cross_entropy({"logits": jnp.asarray(logits)},
                                               {"label": jnp.asarray(LABELS[:2])})
    assert float(got) == pytest.approx(per_example.mean(), rel=1e-6)
    one = classification.emotion_cross_entropy({"logits": jnp.asarray(LOGITS[:1])},
                                               {"label": jnp.asarray(LABELS[:1])})
    assert float(one) == pytest.approx(per_example[0], rel=1e-6)


def test_low_precision_logits_are_evaluated_in_float32():
    logits = jnp.asarray(LOGITS * 37.1, jnp.bfloat16)
    got = classification.emotion_cross_entropy({"logits": logits}, {"label": jnp.asarray(LABELS)})
    expected = _ce_by_hand(np.asarray(logits.astype(jnp.float32)), LABELS).mean()
    assert got.dtype == jnp.float32 and float(got) == pytest.approx(expected, rel=1e-6)
