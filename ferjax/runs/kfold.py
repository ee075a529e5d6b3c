"""Protocol "kfold": subject-independent k-fold cross-validation (Sun et al.: 5 folds).

Each fold trains from scratch in workdir/fold<k> (so each fold resumes on its own after a
preemption), evaluates on the held-out subjects and runs config.evals in its directory; the
summary (workdir/crossval.json) gives mean ± std accuracy and the confusion matrix summed over
folds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferjax.data import splits
from ferjax.files import write_json
from ferjax.runs import evaluators
from ferjax.runs.result import RunResult
from ferjax.train import host_local, loop
from ferjax.viz import figures


def summarise(fold_results: list[dict]) -> dict:
    """Mean ± std (population std over folds, as the papers report) and summed confusion."""
    acc = np.array([r["accuracy"] for r in fold_results])
    f1 = np.array([r["macro_f1"] for r in fold_results])
    return {"num_folds": len(fold_results),
            "accuracy_mean": float(acc.mean()), "accuracy_std": float(acc.std()),
            "macro_f1_mean": float(f1.mean()), "macro_f1_std": float(f1.std()),
            "fold_accuracy": acc.tolist(),
            "confusion": np.sum([r["confusion"] for r in fold_results], axis=0).tolist(),
            "class_names": fold_results[0]["class_names"]}


def fold_config(config, fold: int):
    """The single-run config of `fold`: config.data.fold = fold, seed = config.seed + fold."""
    cfg = config.copy_and_resolve_references()
    with cfg.unlocked():
        cfg.data.fold = fold
        cfg.seed = config.seed + fold
    return cfg


def run(config, workdir: Path) -> RunResult:
    """Runs every fold and writes workdir/crossval.json and figures/confusion_crossval.png.

    The folds are the records' `fold` field modulo config.data.num_folds, or, with
    config.data.subjects_per_fold = n > 0, groups of n subjects (FERAtt's leave-10-subjects-out;
    ferjax.data.splits.leave_n_subjects_out), whose count the data decides.
    """
    evaluators.check(config)
    models, evals = [], {}
    for fold in range(splits.num_cv_folds(config.data)):
        trained = loop.train(fold_config(config, fold), workdir / f"fold{fold}")
        models.append(trained)
        if trained.preempted:
            return RunResult(workdir, tuple(models), trained.result, evals, preempted=True)
        evals[fold] = evaluators.run_all(trained.config, trained, trained.workdir)
    summary = summarise([m.result for m in models])
    host_local.run_on_main(f"cross-validation summary in {workdir}",
                           lambda: _write_summary(summary, workdir))
    return RunResult(workdir, tuple(models), summary, evals)


def _write_summary(summary: dict, workdir: Path) -> None:
    """workdir/crossval.json, figures/confusion_crossval.png and the printed line."""
    write_json(workdir / "crossval.json", summary)
    figures.confusion_matrix_figure(
        np.array(summary["confusion"]), summary["class_names"],
        workdir / "figures" / "confusion_crossval.png",
        title=f"{summary['num_folds']}-fold accuracy {summary['accuracy_mean']:.3f} ± "
              f"{summary['accuracy_std']:.3f}")
    print(f"cross-validation: accuracy {summary['accuracy_mean']:.4f} ± "
          f"{summary['accuracy_std']:.4f} over {summary['num_folds']} folds", flush=True)
