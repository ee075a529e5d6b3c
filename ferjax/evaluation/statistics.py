"""Comparing methods as FERAtt does: fold summaries and the Friedman test followed by Nemenyi
(two-tailed) and Bonferroni-Dunn (one-tailed, against
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
    """Iman-Davenport's F form of the Friedman statistic and its p-value.

    When every block ranks the methods identically, χ²_F reaches its maximum N(k − 1) and F is
    infinite (p = 0).
    """
    denominator = n_blocks * (k - 1) - chi2
    if denominator <= 1e-12 * max(1.0, chi2):
        return math.inf, 0.0
    f = (n_blocks - 1) * chi2 / denominator
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
    """Mean and population standard deviation (ddof = 0, as the kfold runner's summary) over folds."""
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
