"""Classification metrics over a whole evaluation set (scikit-learn)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn import metrics as skm


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
