"""Evaluator "figures": confusion matrix and training curves in out_dir/figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferjax.train import writers
from ferjax.viz import figures


def evaluate(target, out_dir: Path) -> dict:
    """figures/confusion.png from the final evaluation and figures/training_curves.png from
    the run's metrics.jsonl; returns {figure: path}."""
    result, out = target.result, Path(out_dir) / "figures"
    return {
        "confusion": str(figures.confusion_matrix_figure(
            np.array(result["confusion"]), result["class_names"], out / "confusion.png",
            title=f"accuracy {result['accuracy']:.3f}")),
        "curves": str(figures.training_curves_figure(writers.read_metrics(target.workdir),
                                                     out / "training_curves.png")),
    }
