"""Classification and embedding metrics over a whole evaluation set (scikit-learn).

The one home of classification metrics: classification_report's keys are those of every
run's results.json.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn import metrics as skm
from sklearn.neighbors import KNeighborsClassifier


def classification_report(labels: np.ndarray, predictions: np.ndarray,
                          class_names: Sequence[str]) -> dict:
    """Accuracy, per-class recall, macro precision/recall/F1 and the confusion matrix.

    Macro averages run over the classes present in `labels` only: a class the evaluated set
    does not contain (contempt in a 7-class dataset scored by an 8-class model) has no recall
    to average, and counting it as 0 would understate every macro figure. Its per-class entry
    is None (null in JSON); predictions of it still count as errors of the true class.

    Args:
      labels, predictions: int (N,) class ids in [0, len(class_names)).
    Returns:
      JSON-ready dict; confusion[i][j] counts true class i predicted as j; "classes_present"
      names the classes the macro averages run over. With no examples, accuracy and the macro
      figures are None.
    """
    k = len(class_names)
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels.astype(np.int64), predictions.astype(np.int64)), 1)
    support = confusion.sum(axis=1)
    present = [int(i) for i in np.flatnonzero(support > 0)]
    if present:
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            labels, predictions, labels=present, average="macro", zero_division=0)
        precision, recall, f1 = float(precision), float(recall), float(f1)
        accuracy = float(skm.accuracy_score(labels, predictions))
    else:
        precision = recall = f1 = accuracy = None
    per_class = {n: (float(confusion[i, i] / support[i]) if support[i] else None)
                 for i, n in enumerate(class_names)}
    return {
        "accuracy": accuracy, "macro_precision": precision, "macro_recall": recall,
        "macro_f1": f1, "num_examples": int(len(labels)),
        "per_class_accuracy": per_class, "classes_present": [class_names[i] for i in present],
        "confusion": confusion.tolist(), "class_names": list(class_names),
    }


def f1_of_macro_pr(macro_precision: float, macro_recall: float) -> float:
    """Harmonic mean of macro precision and macro recall, which FERAtt's tables report as F1
    (e.g. Table 2: 2·77.58·75.49/(77.58+75.49) = 76.52); 0 when both are 0. results.json's
    macro_f1 is instead the mean of the per-class F1."""
    total = macro_precision + macro_recall
    return float(2 * macro_precision * macro_recall / total) if total > 0 else 0.0


def knn_accuracy(train_embeddings, train_labels, test_embeddings, test_labels,
                 k: int = 11) -> float:
    """Accuracy of a k-NN (Euclidean, k = 11 as FERAtt) classifier fitted on the training
    embeddings (N, D) and scored on the test embeddings (M, D)."""
    if len(train_labels) < k:
        raise ValueError(f"k-NN with k={k} needs at least {k} training embeddings, got "
                         f"{len(train_labels)}")
    knn = KNeighborsClassifier(n_neighbors=k).fit(np.asarray(train_embeddings),
                                                  np.asarray(train_labels))
    return float(knn.score(np.asarray(test_embeddings), np.asarray(test_labels)))
