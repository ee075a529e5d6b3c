"""Cross-run comparison: fold rows from results.json keys, summaries and rank tests, the CLI."""

import json

import numpy as np
import pytest

from ferjax.evaluation import compare, statistics


def _result(acc, p, r, f1):
    return {"accuracy": acc, "macro_precision": p, "macro_recall": r, "macro_f1": f1,
            "confusion": [[1]], "class_names": ["a"]}


def test_fold_row_takes_results_keys_and_numeric_extras():
    row = compare.fold_row(_result(0.5, 0.6, 0.4, 0.45), {"knn11": 0.7, "note": "x",
                                                          "flag": True})
    assert row == {"accuracy": 0.5, "precision": 0.6, "recall": 0.4, "f1": 0.45,
                   "f1_of_macro_pr": pytest.approx(2 * 0.6 * 0.4 / 1.0), "knn11": 0.7}


def test_compare_methods_summarises_and_ranks_over_folds():
    acc = np.array([[0.5, 0.6, 0.7], [0.4, 0.6, 0.8], [0.5, 0.55, 0.6], [0.3, 0.5, 0.9]])
    per_method = {name: [{"accuracy": float(a), "knn11": 0.1 * k} for k, a in
                         enumerate(acc[:, j])] for j, name in enumerate(["A", "B", "C"])}
    report = compare.compare_methods(per_method)
    mean, std = report["methods"]["C"]["summary"]["accuracy"]
    assert (mean, std) == (pytest.approx(0.75), pytest.approx(np.std([0.7, 0.8, 0.6, 0.9])))
    assert report["methods"]["A"]["summary"]["knn11"][0] == pytest.approx(0.15)
    expected = statistics.friedman(acc)
    assert report["friedman"]["chi2"] == pytest.approx(expected.statistic)
    assert report["friedman"]["ranks"] == {"A": 3.0, "B": 2.0, "C": 1.0}
    assert set(report["bonferroni_dunn_vs_C"]) == {"A", "B"}
    assert set(compare.compare_methods(per_method, control="A")["bonferroni_dunn_vs_A"]) == {
        "B", "C"}
    two = compare.compare_methods({"A": per_method["A"], "B": per_method["B"]})
    assert "friedman" not in two  # rank tests need three methods
    with pytest.raises(ValueError, match="same non-zero number of folds"):
        compare.compare_methods({"A": per_method["A"], "B": per_method["B"][:2]})


def test_command_line_reads_each_folds_evaluator_files(tmp_path):
    for j, name in enumerate(["base", "cls", "rep"]):
        for fold in range(2):
            d = tmp_path / name / f"fold{fold}"
            d.mkdir(parents=True)
            acc = 0.3 + 0.1 * j + 0.05 * fold
            (d / "results.json").write_text(json.dumps(_result(acc, acc, acc, acc)))
            (d / "knn.json").write_text(json.dumps({"knn11": acc / 2}))
            (d / "robustness.json").write_text(json.dumps(
                {"noise_sigmas": [0.1, 0.2], "noise_accuracy": [acc, acc / 2]}))
    out = tmp_path / "report"
    report = compare.main([f"--run=B={tmp_path / 'base'}", f"--run=C={tmp_path / 'cls'}",
                           f"--run=R={tmp_path / 'rep'}", f"--out={out}"])
    saved = json.loads((out / "report.json").read_text())
    assert saved["methods"]["R"]["summary"]["knn11"][0] == pytest.approx((0.5 + 0.55) / 4)
    assert saved["noise_accuracy"]["B"] == [0.3, 0.15]
    assert report["friedman"]["ranks"] == {"B": 3.0, "C": 2.0, "R": 1.0}
    table = (out / "report.md").read_text()
    assert "| R | 52.50 ± 2.50 |" in table and (out / "noise_robustness.png").is_file()
