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


def test_classes_absent_from_the_labels_have_nan_accuracy():
    m = metrics.classification_report(np.array([0, 0]), np.array([0, 1]), ["a", "b"])
    assert m["per_class_accuracy"]["a"] == 0.5 and np.isnan(m["per_class_accuracy"]["b"])


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
