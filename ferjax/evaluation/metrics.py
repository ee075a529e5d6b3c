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

    Args:
      labels, predictions: int (N,) class ids.
    Returns:
      JSON-ready dict; confusion[i][j] counts true class i predicted as j.
    """
    k = len(class_names)
    ids = list(range(k))
    confusion = skm.confusion_matrix(labels, predictions, labels=ids)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        labels, predictions, labels=ids, average="macro", zero_division=0)
    support = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), support, out=np.full(k, np.nan),
                          where=support > 0)
    return {
        "accuracy": float(skm.accuracy_score(labels, predictions)) if len(labels) else float("nan"),
        "macro_precision": float(precision), "macro_recall": float(recall),
        "macro_f1": float(f1), "num_examples": int(len(labels)),
        "per_class_accuracy": {n: float(a) for n, a in zip(class_names, per_class)},
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
