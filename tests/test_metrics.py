"""Classification and embedding metrics by hand."""

import numpy as np
import pytest

from ferjax.evaluation import metrics


def test_classification_report_by_hand():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    m = metrics.classification_report(y_true, y_pred, ["a", "b", "c"])
    # per class precision 1/2, 2/3, 1; recall 1/2, 1, 1/2
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["macro_precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["macro_recall"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    f1s = [1 / 2, 2 * (2 / 3) / (2 / 3 + 1), 2 * 0.5 / 1.5]
    assert m["macro_f1"] == pytest.approx(np.mean(f1s))
    assert m["per_class_accuracy"] == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["num_examples"] == 6 and m["class_names"] == ["a", "b", "c"]
    p, r = m["macro_precision"], m["macro_recall"]
    assert metrics.f1_of_macro_pr(p, r) == pytest.approx(2 * p * r / (p + r))
    assert metrics.f1_of_macro_pr(0.7758, 0.7549) == pytest.approx(0.7652, abs=1e-4)
    assert metrics.f1_of_macro_pr(0.0, 0.0) == 0.0


def test_classes_absent_from_the_labels_are_null_and_left_out_of_macro_averages():
    # 8-class model scored on 7-class data, in miniature: class "c" never occurs in the labels.
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 2, 1, 1])          # one true-"a" predicted as the absent "c"
    m = metrics.classification_report(y_true, y_pred, ["a", "b", "c"])
    assert m["per_class_accuracy"] == {"a": 0.5, "b": 1.0, "c": None}
    assert m["classes_present"] == ["a", "b"]
    assert m["accuracy"] == pytest.approx(3 / 4)
    # recall a = 1/2, b = 1; precision a = 1, b = 1; F1 a = 2/3, b = 1 (over a, b only).
    assert m["macro_recall"] == pytest.approx(0.75)
    assert m["macro_precision"] == pytest.approx(1.0)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1) / 2)
    assert m["confusion"] == [[1, 0, 1], [0, 2, 0], [0, 0, 0]]


def test_report_of_no_examples_has_no_values_instead_of_nan():
    m = metrics.classification_report(np.array([], int), np.array([], int), ["a", "b"])
    assert m["accuracy"] is None and m["macro_f1"] is None and m["num_examples"] == 0
    assert m["per_class_accuracy"] == {"a": None, "b": None}


def test_knn_accuracy_on_separated_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    train_y = np.repeat(np.arange(3), 12)
    train_z = centres[train_y] + rng.normal(0, 0.5, (36, 2))
    test_y = np.array([0, 1, 2, 2])
    test_z = centres[test_y]
    assert metrics.knn_accuracy(train_z, train_y, test_z, test_y) == 1.0
    assert metrics.knn_accuracy(train_z, train_y, test_z, [1, 1, 2, 2]) == 0.75
    with pytest.raises(ValueError, match="k=11"):
        metrics.knn_accuracy(train_z[:5], train_y[:5], test_z, test_y)
