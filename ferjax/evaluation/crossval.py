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
    """Runs every fold of config.data.num_folds and writes workdir/crossval.json."""
    from ferjax.train import loop

    workdir = Path(workdir)
    results = []
    for fold in range(config.data.num_folds):
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


def leave_n_subjects_out_folds(subject_ids, n: int, seed: int) -> np.ndarray:
    """Subject-independent folds holding out n subjects each (FERAtt's leave-10-subjects-out).

    The distinct subjects are shuffled with `seed` and cut into consecutive groups of n (the
    last group takes the remainder, so it may be smaller); every example gets its subject's
    group index.

    Args:
      subject_ids: (N,) integer subject ids; -1 (unknown subject) is an error, since such
        examples cannot be kept subject-disjoint.
      n: subjects per fold, ≥ 1.
      seed: shuffling seed.
    Returns:
      (N,) int64 fold index in [0, ceil(S / n)), S = number of distinct subjects.
    """
    ids = np.asarray(subject_ids)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError(f"subject_ids must be a non-empty 1-D array, got shape {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"subject_ids must be integers, got dtype {ids.dtype}")
    if np.any(ids < 0):
        raise ValueError(f"{int(np.sum(ids < 0))} examples have an unknown subject id (-1); "
                         "subject-independent folds need every subject")
    if n < 1:
        raise ValueError(f"n (subjects per fold) must be >= 1, got {n}")
    subjects, inverse = np.unique(ids, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(subjects))
    fold_of_subject = np.empty(len(subjects), np.int64)
    fold_of_subject[order] = np.arange(len(subjects)) // n
    return fold_of_subject[inverse]
