"""Cross-dataset evaluation: train on one dataset, test on several (EmotionalDAN Tables 2, 3).

Test images are normalised with the TRAINING set's statistics (the run's data_stats.json), as
the paper states; the authors' code standardised each test set by its own statistics, a bug.
Every test set is read in the run's label space (3 or 7 classes) and input size.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ferjax.data import pipeline
from ferjax.models import build_model
from ferjax.train import checkpoint


def predict(model, variables, source, transform, batch_size: int):
    """(labels (N,), predicted classes (N,)) over every record of `source`."""
    forward = jax.jit(lambda x: jnp.argmax(model.apply(variables, x, train=False)["logits"], -1))
    labels, predictions = [], []
    for batch in pipeline.eval_batches(source, transform, local_batch_size=batch_size):
        keep = batch["weight"] > 0
        labels.append(batch["label"][keep])
        predictions.append(np.asarray(forward(batch["image"]))[keep])
    return np.concatenate(labels), np.concatenate(predictions)


def evaluate_run(config, run_dir: str | Path,
                 test_sets: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Accuracy of run_dir's final checkpoint on each test set.

    Args:
      config: the run's config (its model, data and label space).
      run_dir: the run's workdir (checkpoints/ and data_stats.json).
      test_sets: {column name: overrides of config.data naming the test data, e.g.
        {"name": "ckplus", "config": "", "eval_split": "test", "manual_dir": ...}}.
    Returns:
      {column name: accuracy}.
    """
    run_dir = Path(run_dir)
    stats_file = run_dir / "data_stats.json"
    if not stats_file.exists():
        raise FileNotFoundError(f"{stats_file} is missing: not a finished training run")
    stats = json.loads(stats_file.read_text())
    norm = pipeline.Normalisation(tuple(stats["mean"]), tuple(stats["std"]))
    train_data = pipeline.build_data(config.data, seed=config.seed)  # mean shape, class space
    model_cfg = {**dict(config.model), "active_stages": None, "frozen_stages": 0} \
        if config.model.name == "emotional_dan" else dict(config.model)
    model = build_model(model_cfg, train_data.info)
    variables = jax.tree.map(jnp.asarray, checkpoint.restore_variables(run_dir))
    results = {}
    for column, overrides in test_sets.items():
        test_cfg = config.data.copy_and_resolve_references()
        with test_cfg.unlocked():
            test_cfg.update(dict(overrides))
        data = pipeline.build_data(test_cfg, seed=config.seed)
        labels, predictions = predict(model, variables, data.eval,
                                      pipeline.EvalTransform(data.spec, norm),
                                      int(config.eval.batch_size))
        results[column] = float(np.mean(labels == predictions))
    return results


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
