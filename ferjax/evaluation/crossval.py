"""Subject-independent k-fold cross-validation driver (Sun et al.: 5 folds).

Each fold trains from scratch in workdir/fold<k> (so each fold resumes on its own after a
preemption) and evaluates on the held-out subjects; the summary gives mean ± std accuracy and
the confusion matrix summed over folds.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np


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


def run(config, workdir: str | Path) -> dict:
    """Runs every fold and writes workdir/crossval.json.

    The folds are the records' `fold` field modulo config.data.num_folds, or, with
    config.data.subjects_per_fold = n > 0, groups of n subjects (FERAtt's leave-10-subjects-out;
    ferjax.data.splits.leave_n_subjects_out), whose count the data decides.
    """
    from ferjax.data import pipeline, splits
    from ferjax.train import loop

    workdir = Path(workdir)
    results = []
    for fold in range(splits.num_cv_folds(config.data)):
        fold_config = config.copy_and_resolve_references()
        with fold_config.unlocked():
            fold_config.data.fold = fold
            fold_config.seed = config.seed + fold
        result = loop.train_and_evaluate(fold_config, workdir / f"fold{fold}")
        if result.get("preempted"):
            return result
        results.append(result)
    summary = summarise(results)
    if jax.process_index() == 0:
        (workdir / "crossval.json").write_text(json.dumps(summary, indent=2))
        from ferjax.viz import figures
        figures.confusion_matrix_figure(
            np.array(summary["confusion"]), summary["class_names"],
            workdir / "figures" / "confusion_crossval.png",
            title=f"{summary['num_folds']}-fold accuracy {summary['accuracy_mean']:.3f} ± "
                  f"{summary['accuracy_std']:.3f}")
        print(f"cross-validation: accuracy {summary['accuracy_mean']:.4f} ± "
              f"{summary['accuracy_std']:.4f} over {summary['num_folds']} folds", flush=True)
    return summary
