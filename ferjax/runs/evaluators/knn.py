"""Evaluator "knn": how well the learnt embedding separates the classes (FERAtt Tables 1–4).

A k-NN classifier (Euclidean, k = 11 as FERAtt) fitted on the training set's "embedding"
outputs and scored on the eval set's: knn.json {"knn<k>": accuracy}; with tsne, a Barnes-Hut
t-SNE of the eval embeddings (figures/tsne.png, FERAtt Fig. 6).
"""

from __future__ import annotations

from pathlib import Path

from ferjax.evaluation import metrics
from ferjax.files import write_json
from ferjax.runs.evaluators import _forward
from ferjax.viz import feratt_figures


def evaluate(target, out_dir: Path, k: int = 11, max_examples: int = 0,
             tsne: bool = False) -> dict:
    """max_examples > 0 uses at most that many train and eval records."""
    restored = target.restored
    data = restored.data
    train = _forward.outputs(restored, _forward.limited(data.train, int(max_examples)),
                             ("embedding",))
    test = _forward.outputs(restored, _forward.limited(data.eval, int(max_examples)),
                            ("embedding",))
    if "embedding" not in test:
        raise ValueError(f"config.evals knn: model {restored.config.model.name!r} returns no "
                         "'embedding' output")
    result = {f"knn{int(k)}": metrics.knn_accuracy(train["embedding"], train["label"],
                                                   test["embedding"], test["label"], k=int(k))}
    (Path(out_dir) / "figures").mkdir(parents=True, exist_ok=True)
    if tsne:
        feratt_figures.tsne_embedding(test["embedding"], test["label"], data.info["class_names"],
                                      path=str(Path(out_dir) / "figures" / "tsne.png"))
    write_json(Path(out_dir) / "knn.json", result)
    return result
