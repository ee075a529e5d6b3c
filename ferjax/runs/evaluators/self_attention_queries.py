"""Evaluator "self_attention_queries": where a self-attention block looks from chosen points.

For models with a "self_attention" output (Jalal et al.): the attention rows of queries at the
eyes, nose tip and mouth of a few eval faces of different classes, from each face's own
landmarks (figures/self_attention_queries.png).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferjax import labels
from ferjax.data import pipeline, sources
from ferjax.explain.self_attention_maps import self_attention_maps
from ferjax.files import save_figure
from ferjax.viz.self_attention import self_attention_figure

QUERY_NAMES = ("right eye", "left eye", "nose tip", "mouth")
# Classes shown, in order (happy, surprise, anger, sad, disgust, fear), as many as `count`.
SHOWN_CLASSES = (1, 3, 6, 2, 5, 4)


def _query_points(record: dict, crop_hw: tuple[int, int]) -> np.ndarray:
    """(4, 2) eye centres, nose tip and mouth centre in the centre-cropped frame."""
    lm = np.asarray(record["landmarks"])
    h, w = crop_hw
    offset = np.array([(record["image"].shape[1] - w) // 2, (record["image"].shape[0] - h) // 2])
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30],
                     (lm[51] + lm[57]) / 2]) - offset


def evaluate(target, out_dir: Path, count: int = 4) -> dict:
    """Draws `count` faces (one per class of SHOWN_CLASSES present, different subjects)."""
    restored = target.restored
    data = restored.data
    eval_labels = sources.field_values(data.eval, "label")
    present = [c for c in SHOWN_CLASSES if np.any(eval_labels == c)][:int(count)]
    picks = [int(np.flatnonzero(eval_labels == c)[k * 17 % np.sum(eval_labels == c)])
             for k, c in enumerate(present)]
    records = [data.eval[i] for i in picks]
    if not records or "landmarks" not in records[0]:
        raise ValueError("config.evals self_attention_queries: needs eval records with "
                         "landmarks of the classes " + str(SHOWN_CLASSES))
    transform = pipeline.EvalTransform(data.spec, data.norm)
    images = np.stack([transform.map(r)["image"] for r in records])
    points = np.stack([_query_points(r, data.spec.crop_size) for r in records])
    result = self_attention_maps(restored.model, restored.variables, images, points)
    # Record labels are canonical ids; predictions are in the run's label space.
    names = data.info["class_names"]
    titles = [f"{labels.CLASSES[int(r['label'])]} -> {names[int(np.argmax(l))]}"
              for r, l in zip(records, result["logits"])]
    fig = self_attention_figure(images, result["maps"], result["query_points"], titles,
                                list(QUERY_NAMES))
    path = Path(out_dir) / "figures" / "self_attention_queries.png"
    save_figure(fig, path, dpi=100)
    return {"figure": str(path), "examples": picks}
