"""Comparing methods as FERAtt does: fold summaries, macro metrics, k-NN accuracy on embeddings,
and the Friedman test followed by Nemenyi (two-tailed) and Bonferroni-Dunn (one-tailed, against
a control) post-hoc tests (Demšar 2006).

Score tables are (blocks, methods): one row per dataset (or per fold), one column per method,
higher = better. Ranks follow Demšar: rank 1 is the best method of a row, ties get the mean rank.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import scikit_posthocs
from scipy import stats
from sklearn import metrics as skmetrics
from sklearn.neighbors import KNeighborsClassifier


@dataclasses.dataclass(frozen=True)
class FriedmanResult:
    statistic: float               # Friedman χ²_F
    pvalue: float                  # from χ² with k − 1 degrees of freedom
    iman_davenport: float          # F_F = (N − 1) χ²_F / (N (k − 1) − χ²_F)
    iman_davenport_pvalue: float   # from F(k − 1, (k − 1)(N − 1))
    average_ranks: np.ndarray      # (k,), 1 = best


def _score_table(scores) -> np.ndarray:
    table = np.asarray(scores, np.float64)
    if table.ndim != 2 or table.shape[0] < 2 or table.shape[1] < 3:
        raise ValueError(f"scores must be (blocks >= 2, methods >= 3), got shape {table.shape}")
    if not np.all(np.isfinite(table)):
        raise ValueError("scores contain NaN or infinite values")
    return table


def average_ranks(scores) -> np.ndarray:
    """(blocks, methods) → (methods,) mean rank, 1 = highest score in a block."""
    return np.mean(stats.rankdata(-np.asarray(scores, np.float64), axis=1), axis=0)


def iman_davenport(chi2: float, n_blocks: int, k: int) -> tuple[float, float]:
    """Iman-Davenport's F form of the Friedman statistic and its p-value."""
    f = (n_blocks - 1) * chi2 / (n_blocks * (k - 1) - chi2)
    return f, float(stats.f.sf(f, k - 1, (k - 1) * (n_blocks - 1)))


def friedman(scores) -> FriedmanResult:
    """Friedman test that all methods (columns) perform alike over the blocks (rows)."""
    table = _score_table(scores)
    chi2, p = stats.friedmanchisquare(*table.T)
    f, f_p = iman_davenport(float(chi2), table.shape[0], table.shape[1])
    return FriedmanResult(float(chi2), float(p), float(f), f_p, average_ranks(table))


def nemenyi(scores, methods: Sequence[str]) -> pd.DataFrame:
    """Two-tailed Nemenyi p-values for all pairs of methods (scikit-posthocs); (k, k) frame."""
    table = _score_table(scores)
    if len(methods) != table.shape[1]:
        raise ValueError(f"{len(methods)} method names for {table.shape[1]} score columns")
    result = scikit_posthocs.posthoc_nemenyi_friedman(table)
    result.index = result.columns = list(methods)
    return result


def nemenyi_critical_difference(k: int, n_blocks: int, alpha: float = 0.05) -> float:
    """Demšar's CD = q_α √(k(k+1) / 6N), q_α = studentized range quantile / √2."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n_blocks)))


def bonferroni_dunn_critical_difference(k: int, n_blocks: int, alpha: float = 0.05,
                                        one_tailed: bool = True) -> float:
    """CD for comparisons with one control: z quantile at α/(k−1) (halved if two-tailed)."""
    tail = alpha / (k - 1) if one_tailed else alpha / (2 * (k - 1))
    return float(stats.norm.isf(tail) * math.sqrt(k * (k + 1) / (6 * n_blocks)))


def bonferroni_dunn(scores, methods: Sequence[str], control: str,
                    one_tailed: bool = True) -> pd.DataFrame:
    """Bonferroni-Dunn test of every method against `control` (Demšar 2006, §3.2.2).

    z = (R_method − R_control) / √(k(k+1)/6N) with average ranks R (1 = best), so z > 0 when the
    control ranks better. One-tailed p = P(Z ≥ z) (the paper's "control is better" hypothesis),
    two-tailed p = 2 P(Z ≥ |z|); both multiplied by k − 1 (capped at 1).

    scikit-posthocs offers only all-pairs Friedman post-hoc tests (its Siegel-Friedman test is
    this z with an all-pairs correction), so the control comparison is written here.
    Returns a frame indexed by the other methods with columns "z", "p", "p_adjusted".
    """
    table = _score_table(scores)
    if len(methods) != table.shape[1]:
        raise ValueError(f"{len(methods)} method names for {table.shape[1]} score columns")
    if control not in methods:
        raise ValueError(f"control {control!r} is not one of the methods {list(methods)}")
    n, k = table.shape
    ranks = average_ranks(table)
    c = list(methods).index(control)
    se = math.sqrt(k * (k + 1) / (6 * n))
    rows = {}
    for i, name in enumerate(methods):
        if i == c:
            continue
        z = (ranks[i] - ranks[c]) / se
        p = stats.norm.sf(z) if one_tailed else 2 * stats.norm.sf(abs(z))
        rows[name] = {"z": z, "p": p, "p_adjusted": min(1.0, p * (k - 1))}
    return pd.DataFrame.from_dict(rows, orient="index")


def fold_summary(values) -> tuple[float, float]:
    """Mean and population standard deviation (ddof = 0, as crossval.summarise) over folds."""
    v = np.asarray(values, np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"fold values must be a non-empty 1-D sequence, got shape {v.shape}")
    return float(v.mean()), float(v.std())


def summarise_folds(per_fold: Sequence[Mapping[str, float]]) -> dict[str, tuple[float, float]]:
    """[{metric: value} per fold] → {metric: (mean, std)} over the folds."""
    if not per_fold:
        raise ValueError("no folds to summarise")
    keys = per_fold[0].keys()
    return {key: fold_summary([fold[key] for fold in per_fold]) for key in keys}


def classification_metrics(y_true, y_pred, labels: Sequence[int] | None = None) -> dict:
    """Accuracy and macro precision / recall / F1 (scikit-learn; classes with no prediction
    count as precision 0). "f1_of_macro_pr" is the harmonic mean of macro precision and macro
    recall, which is what FERAtt's tables report (e.g. Table 2: 2·77.58·75.49/(77.58+75.49) =
    76.52); "f1" is the mean of per-class F1. Values are fractions in [0, 1]."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal 1-D")
    precision, recall, f1, _ = skmetrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0)
    pr_sum = precision + recall
    return {"accuracy": float(skmetrics.accuracy_score(y_true, y_pred)),
            "precision": float(precision), "recall": float(recall), "f1": float(f1),
            "f1_of_macro_pr": float(2 * precision * recall / pr_sum) if pr_sum > 0 else 0.0}


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
