"""Statistics against textbook values (scipy's Friedman example, Demšar 2006) and by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from ferjax.evaluation import statistics

# scipy.stats.friedmanchisquare's documented example: 7 subjects (blocks) × 3 conditions.
BEFORE = [72, 96, 88, 92, 74, 76, 82]
AFTER = [120, 120, 132, 120, 101, 96, 112]
FIVE_MIN = [76, 95, 104, 96, 84, 72, 76]
TABLE = np.array([BEFORE, AFTER, FIVE_MIN]).T


def test_friedman_on_the_scipy_example_matches_the_hand_computation():
    # Ranks by hand (1 = highest): AFTER is first in every row; BEFORE ranks
    # 3,2,3,3,3,2,2 → 18/7; FIVE_MIN 2,3,2,2,2,3,3 → 17/7.
    result = statistics.friedman(TABLE)
    np.testing.assert_allclose(result.average_ranks, [18 / 7, 1.0, 17 / 7])
    # χ² = 12N/(k(k+1)) [Σ R_j² − k(k+1)²/4] = 7 [(324 + 49 + 289)/49 − 12] = 10.5714
    assert result.statistic == pytest.approx(7 * ((324 + 49 + 289) / 49 - 12))
    assert result.statistic == pytest.approx(10.571428571, rel=1e-9)
    assert result.pvalue == pytest.approx(math.exp(-result.statistic / 2))  # χ², 2 dof
    assert result.pvalue == pytest.approx(0.005063414, rel=1e-6)


def test_iman_davenport_matches_demsar():
    # Demšar 2006 §3.2.4: N = 14 data sets, k = 4, χ²_F = 9.28 → F_F = 3.69.
    f, p = statistics.iman_davenport(9.28, 14, 4)
    assert f == pytest.approx(3.69, abs=0.005)
    assert p < 0.05


def test_identical_rankings_give_an_infinite_iman_davenport_f():
    table = np.array([[0.5, 0.6, 0.7], [0.4, 0.6, 0.8], [0.1, 0.2, 0.3]])
    result = statistics.friedman(table)
    assert result.statistic == pytest.approx(3 * 2)  # the maximum, N (k - 1)
    assert result.iman_davenport == math.inf and result.iman_davenport_pvalue == 0.0


def test_critical_differences_match_demsar_tables():
    # Demšar Table 5: q_0.05 = 2.569 (Nemenyi) and 2.394 (Bonferroni-Dunn, two-tailed) at k = 4;
    # his example's CD with N = 14 is 1.25 for Nemenyi.
    se = math.sqrt(4 * 5 / (6 * 14))
    assert statistics.nemenyi_critical_difference(4, 14) == pytest.approx(2.569 * se, abs=1e-3)
    assert statistics.nemenyi_critical_difference(4, 14) == pytest.approx(1.25, abs=0.01)
    assert statistics.bonferroni_dunn_critical_difference(4, 14, one_tailed=False) == \
        pytest.approx(2.394 * se, abs=1e-3)
    assert statistics.bonferroni_dunn_critical_difference(4, 14, one_tailed=True) < \
        statistics.bonferroni_dunn_critical_difference(4, 14, one_tailed=False)


def test_nemenyi_p_values_follow_the_studentized_range():
    frame = statistics.nemenyi(TABLE, ["before", "after", "five"])
    se = math.sqrt(3 * 4 / (6 * 7))
    q = (18 / 7 - 1.0) / se * math.sqrt(2)
    expected = stats.studentized_range.sf(q, 3, np.inf)
    assert frame.loc["before", "after"] == pytest.approx(expected, rel=1e-4)
    assert frame.loc["after", "before"] == pytest.approx(expected, rel=1e-4)
    assert frame.loc["before", "five"] > 0.5  # ranks differ by 1/7 only


def test_bonferroni_dunn_against_a_control():
    result = statistics.bonferroni_dunn(TABLE, ["before", "after", "five"], control="after")
    se = math.sqrt(3 * 4 / (6 * 7))
    z = (18 / 7 - 1.0) / se
    assert result.loc["before", "z"] == pytest.approx(z)
    assert result.loc["before", "p"] == pytest.approx(stats.norm.sf(z))
    assert result.loc["before", "p_adjusted"] == pytest.approx(2 * stats.norm.sf(z))
    two = statistics.bonferroni_dunn(TABLE, ["before", "after", "five"], control="after",
                                     one_tailed=False)
    assert two.loc["five", "p"] == pytest.approx(2 * result.loc["five", "p"])
    with pytest.raises(ValueError, match="control"):
        statistics.bonferroni_dunn(TABLE, ["a", "b", "c"], control="d")


def test_fold_summary_by_hand():
    mean, std = statistics.fold_summary([0.7, 0.8, 0.9])
    assert (mean, std) == (pytest.approx(0.8), pytest.approx(np.sqrt(0.02 / 3)))
    summary = statistics.summarise_folds([{"accuracy": 0.5}, {"accuracy": 0.7}])
    assert summary["accuracy"] == (pytest.approx(0.6), pytest.approx(0.1))


def test_bad_score_tables_are_rejected():
    with pytest.raises(ValueError, match="methods >= 3"):
        statistics.friedman(np.ones((5, 2)))
    with pytest.raises(ValueError, match="NaN"):
        statistics.friedman(np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0]]))
