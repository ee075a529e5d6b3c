"""The figures a training run leaves in workdir/figures, and the attention report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ferjax.data import pipeline
from ferjax.explain import attention
from ferjax.train import writers
from ferjax.viz import figures


def write_all(workdir: Path, state, data: pipeline.Data, result: dict) -> dict:
    """Confusion matrix, training curves and, for attention models, Sun Fig. 5-style maps and
    the AU-region score (written to workdir/attention.json). Returns the paths written."""
    out = Path(workdir) / "figures"
    written = {
        "confusion": figures.confusion_matrix_figure(
            np.array(result["confusion"]), result["class_names"], out / "confusion.png",
            title=f"accuracy {result['accuracy']:.3f}"),
        "curves": figures.training_curves_figure(writers.read_metrics(workdir),
                                                 out / "training_curves.png"),
    }
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    probe = state.apply_fn(variables, np.zeros((1, *data.info["image_shape"]), np.float32),
                           train=False)
    if "attention" in probe and probe["attention"].ndim == 3:
        report = attention.analyse(
            state.apply_fn, variables, data.eval, pipeline.EvalTransform(data.spec, data.norm),
            data.info["class_names"], denormalise=data.norm.invert)
        written["attention"] = figures.attention_per_emotion_figure(
            report["means"], data.info["class_names"], out / "attention_per_emotion.png")
        summary = {"au_mass": report["au_mass"], "au_area": report["au_area"]}
        if report["au_mass"]:
            scored = [v for v in report["au_mass"].values() if v is not None]
            area = [v for v in report["au_area"].values() if v is not None]
            summary["mean_au_mass"] = float(np.mean(scored))
            summary["mean_au_area"] = float(np.mean(area))
            print(f"attention mass inside the generating AU regions: {np.mean(scored):.3f} "
                  f"(a uniform map would score {np.mean(area):.3f})", flush=True)
        (Path(workdir) / "attention.json").write_text(json.dumps(summary, indent=2))
    return written
