"""Cross-dataset evaluation: train on one dataset, test on several (EmotionalDAN Tables 2, 3).

Test images are normalised with the TRAINING set's statistics, as the paper states; the
authors' code standardised each test set by its own statistics, a bug. Every test set is read
in the run's label space (3 or 7 classes) and input size (config_for_test_set).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ferjax.data import pipeline
from ferjax.evaluation import tta


def predict(model, variables, source, transform, batch_size: int):
    """(labels (N,), predicted classes (N,)) over every record of `source`; with a test-time
    augmentation transform (tta.eval_transform) the argmax of the views' mean probabilities."""
    forward = jax.jit(lambda x: model.apply(variables, x, train=False))
    labels, predictions = [], []
    for batch in pipeline.eval_batches(source, transform, local_batch_size=batch_size):
        keep = batch["weight"] > 0
        labels.append(batch["label"][keep])
        if "views" in batch:
            scores = tta.view_probabilities(forward, jnp.asarray(batch["views"]))
        else:
            scores = forward(batch["image"])["logits"]
        predictions.append(np.asarray(jnp.argmax(scores, -1))[keep])
    return np.concatenate(labels), np.concatenate(predictions)


def config_for_test_set(train_data_cfg, overrides: Mapping[str, Any]):
    """The run's config.data with `overrides` naming a test set, e.g. {"name": "ckplus",
    "config": "", "eval_split": "test", "manual_dir": ...}: label space, channels and crop are
    the run's; the run's validation data (model selection) is not carried over."""
    test_cfg = train_data_cfg.copy_and_resolve_references()
    with test_cfg.unlocked():
        test_cfg.validation_split, test_cfg.validation_fraction = "", 0.0
        test_cfg.update(dict(overrides))
    return test_cfg


def table_markdown(rows: Mapping[str, Mapping[str, float]], columns: Sequence[str],
                   title: str = "") -> str:
    """Paper Table 2/3 layout: one row per model, one column per test set, 3 decimals."""
    lines = [title, ""] if title else []
    lines.append("| model | " + " | ".join(columns) + " |")
    lines.append("|---|" + "---|" * len(columns))
    for model, scores in rows.items():
        cells = [f"{scores[c]:.3f}" if c in scores and scores[c] is not None else "—"
                 for c in columns]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
