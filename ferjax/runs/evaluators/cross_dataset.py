"""Evaluator "cross_dataset": accuracy of the final model on other datasets (EmotionalDAN T2, T3).

Options: sets = {column: overrides of config.data naming a test set} and columns (their order
in the table). Writes cross_dataset.json ({row: {column: accuracy}}) and cross_dataset.md (the
paper's table layout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ferjax import labels
from ferjax.data import pipeline
from ferjax.evaluation import cross_dataset, tta
from ferjax.files import write_json, write_text


def evaluate(target, out_dir: Path, sets: Mapping[str, Mapping[str, Any]],
             columns: Sequence[str] = ()) -> dict[str, float]:
    """{column: accuracy}; test images are normalised with the training set's statistics and
    predicted with the run's test-time augmentation (config.eval.tta)."""
    columns = list(columns) or list(sets)
    restored = target.restored
    config = restored.config
    scores = {}
    for column in columns:
        test = pipeline.build_data(cross_dataset.config_for_test_set(config.data, sets[column]),
                                   seed=config.seed)
        truth, predicted = cross_dataset.predict(
            restored.model, restored.variables, test.eval,
            tta.eval_transform(test.spec, restored.data.norm, config.eval.get("tta", "none")),
            int(config.eval.batch_size))
        scores[column] = float(np.mean(truth == predicted))
    classes = len(labels.label_space_classes(config.data.label_space))
    row = f"{config.model.name} ({classes} classes, trained on {config.data.name})"
    write_json(Path(out_dir) / "cross_dataset.json", {row: scores})
    write_text(Path(out_dir) / "cross_dataset.md", cross_dataset.table_markdown(
        {row: scores}, columns, title="Cross-dataset accuracy"))
    return scores
