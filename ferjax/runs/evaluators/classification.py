"""Evaluator "classification": the final evaluation as results.json.

Keys (ferjax.evaluation.metrics.classification_report plus the trainer's): accuracy,
macro_precision, macro_recall, macro_f1 (macro over classes_present), num_examples,
per_class_accuracy (null for a class absent from the labels), classes_present, confusion,
class_names, loss, loss/<term> and step. Other tools read these keys: keep them. A run that
selected on a validation split reports its best checkpoint in them and adds "last" and
"selection" (ferjax.train.selection.results).
"""

from __future__ import annotations

from pathlib import Path

from ferjax.files import write_json


def evaluate(target, out_dir: Path) -> dict:
    """Writes out_dir/results.json from the evaluation the trainer ran on the final model."""
    write_json(Path(out_dir) / "results.json", target.result)
    return target.result
