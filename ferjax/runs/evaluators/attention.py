"""Evaluator "attention": where a spatial attention map looks (Sun et al. Fig. 5).

For models with an "attention" output (B, h, w): per-emotion mean maps
(figures/attention_per_emotion.png) and, on records with AU regions (FERSynth), the share of
attention mass inside the regions the active AUs changed, against a uniform map's share
(attention.json: au_mass, au_area per class, mean_au_mass, mean_au_area).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferjax.data import pipeline
from ferjax.explain import attention
from ferjax.files import write_json
from ferjax.viz import figures


def evaluate(target, out_dir: Path, max_examples: int = 2000, batch_size: int = 64,
             bottom: str = "product") -> dict:
    """Analyses up to max_examples eval records; writes attention.json and the figure.

    bottom: the figure's third row, "product" (mean over images of input × map) or
    "product_of_means" (mean input × mean map, as Sun et al.'s Fig. 5 draws it).
    """
    restored = target.restored
    data = restored.data
    report = attention.analyse(
        restored.model.apply, restored.variables, data.eval,
        pipeline.EvalTransform(data.spec, data.norm), data.info["class_names"],
        batch_size=int(batch_size), max_examples=int(max_examples),
        denormalise=data.norm.invert)
    figures.attention_per_emotion_figure(report["means"], data.info["class_names"],
                                         Path(out_dir) / "figures" / "attention_per_emotion.png",
                                         bottom=bottom)
    summary = {"au_mass": report["au_mass"], "au_area": report["au_area"]}
    if report["au_mass"]:
        scored = [v for v in report["au_mass"].values() if v is not None]
        area = [v for v in report["au_area"].values() if v is not None]
        summary["mean_au_mass"] = float(np.mean(scored))
        summary["mean_au_area"] = float(np.mean(area))
        print(f"attention mass inside the generating AU regions: {np.mean(scored):.3f} "
              f"(a uniform map would score {np.mean(area):.3f})", flush=True)
    write_json(Path(out_dir) / "attention.json", summary)
    return summary
