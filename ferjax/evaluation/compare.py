"""Comparing trained runs: per-fold summaries and Friedman / Nemenyi / Bonferroni-Dunn tests.

compare_methods is pure (per-run result dicts in, a JSON-ready report out); the command line
reads the files the evaluators left in each run's workdir (results.json, knn.json,
attention_image.json, robustness.json per fold):

    python -m ferjax.evaluation.compare --out=runs/feratt_report \
        --run=PreActResNet18=runs/feratt_cv_baseline --run=FERAtt+Cls=runs/feratt_cv_cls \
        --run=FERAtt+Rep+Cls=runs/feratt_cv_rep_cls

writes report.json and report.md (FERAtt's Tables 1–4 layout: mean ± std over folds, the
Friedman test on fold accuracies with Nemenyi and Bonferroni-Dunn post-hoc tests against the
last run) and noise_robustness.png (accuracy under noise of one fold, --noise_fold).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ferjax.evaluation import metrics, statistics
from ferjax.files import json_text, write_text

# Evaluator files whose numbers join a fold's row (the keys of each file's top level).
EXTRA_FILES = ("knn.json", "attention_image.json")


def fold_row(result: Mapping, *extras: Mapping) -> dict[str, float]:
    """One fold's numbers: FERAtt's metrics from results.json keys, plus every number of
    `extras` (other evaluators' results)."""
    p, r = result["macro_precision"], result["macro_recall"]
    row = {"accuracy": result["accuracy"], "precision": p, "recall": r,
           "f1": result["macro_f1"], "f1_of_macro_pr": metrics.f1_of_macro_pr(p, r)}
    for extra in extras:
        row.update({k: float(v) for k, v in extra.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return row


def compare_methods(per_method: Mapping[str, Sequence[Mapping[str, float]]],
                    metric: str = "accuracy", control: str | None = None) -> dict:
    """Summaries and rank tests of several methods evaluated on the same folds.

    Args:
      per_method: {method: [fold_row of fold 0, fold 1, ...]}, the same folds for every method.
      metric: the row key the rank tests compare (higher = better).
      control: the method Bonferroni-Dunn compares the others with (default the last).
    Returns:
      {"methods": {method: {"summary": {key: (mean, std)}, "folds": rows}}, and with at least
      three methods and two folds "friedman" {"chi2", "p", "ranks", "iman_davenport_p"},
      "nemenyi_p" {method: {method: p}}, "bonferroni_dunn_vs_<control>" {method: {z, p,
      p_adjusted}}}. Summaries cover the keys every fold of the method has.
    """
    names = list(per_method)
    folds = {len(rows) for rows in per_method.values()}
    if len(folds) != 1 or 0 in folds:
        raise ValueError(f"every method needs the same non-zero number of folds, got "
                         f"{ {n: len(r) for n, r in per_method.items()} }")
    report: dict = {"methods": {}}
    for name, rows in per_method.items():
        keys = [k for k in rows[0] if all(k in row for row in rows)]
        report["methods"][name] = {"summary": statistics.summarise_folds(
            [{k: row[k] for k in keys} for row in rows]), "folds": [dict(r) for r in rows]}
    n_folds = folds.pop()
    if len(names) >= 3 and n_folds >= 2:
        scores = np.array([[row[metric] for row in per_method[n]] for n in names]).T
        control = control or names[-1]
        fr = statistics.friedman(scores)
        report["friedman"] = {"chi2": fr.statistic, "p": fr.pvalue,
                              "ranks": dict(zip(names, fr.average_ranks.tolist())),
                              "iman_davenport_p": fr.iman_davenport_pvalue}
        report["nemenyi_p"] = statistics.nemenyi(scores, names).to_dict()
        report[f"bonferroni_dunn_vs_{control}"] = statistics.bonferroni_dunn(
            scores, names, control=control).to_dict(orient="index")
    return report


def markdown_table(report: Mapping, columns: Mapping[str, str] | None = None) -> str:
    """The methods' summaries as mean ± std in percent; columns = {row key: header}."""
    columns = columns or {"accuracy": "Acc.", "precision": "Prec.", "recall": "Rec.",
                          "f1_of_macro_pr": "F1 (of macro P, R)", "f1": "macro F1",
                          "knn11": "k-NN(11) on z"}
    lines = ["| Method | " + " | ".join(columns.values()) + " |",
             "|---|" + "---|" * len(columns)]
    for name, method in report["methods"].items():
        s = method["summary"]
        cells = [f"{100 * s[k][0]:.2f} ± {100 * s[k][1]:.2f}" if k in s else "—"
                 for k in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def fold_dirs(run_dir: str | Path) -> list[Path]:
    """run_dir/fold<k> in fold order, or [run_dir] for a run without folds."""
    run_dir = Path(run_dir)
    folds = sorted((p for p in run_dir.glob("fold*") if p.name[4:].isdigit()),
                   key=lambda p: int(p.name[4:]))
    return folds or [run_dir]


def read_fold(fold_dir: Path) -> dict[str, float]:
    """fold_row of the evaluator files a fold's directory holds."""
    result = json.loads((fold_dir / "results.json").read_text())
    extras = [json.loads((fold_dir / f).read_text()) for f in EXTRA_FILES
              if (fold_dir / f).exists()]
    return fold_row(result, *extras)


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True,
                        help="METHOD=WORKDIR (a k-fold run's workdir), repeated per method")
    parser.add_argument("--out", required=True)
    parser.add_argument("--control", default="", help="default: the last --run")
    parser.add_argument("--noise_fold", type=int, default=0)
    args = parser.parse_args(argv)
    runs = dict(item.split("=", 1) for item in args.run)
    report = compare_methods({name: [read_fold(f) for f in fold_dirs(d)]
                              for name, d in runs.items()}, control=args.control or None)
    noise = {}
    for name, d in runs.items():
        path = fold_dirs(d)[min(args.noise_fold, len(fold_dirs(d)) - 1)] / "robustness.json"
        if path.exists():
            noise[name] = json.loads(path.read_text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if noise:
        sigmas = next(iter(noise.values()))["noise_sigmas"]
        report["noise_sigmas"] = sigmas
        report["noise_accuracy"] = {n: r["noise_accuracy"] for n, r in noise.items()}
        from ferjax.viz import feratt_figures
        feratt_figures.noise_robustness_curves(sigmas, report["noise_accuracy"],
                                               title=f"fold {args.noise_fold}",
                                               path=str(out / "noise_robustness.png"))
    write_text(out / "report.json", json_text(report))
    table = markdown_table(report)
    write_text(out / "report.md", table)
    print(table)
    return report


if __name__ == "__main__":
    main()
