"""Evaluator "landmarks": landmark error of every stage of a multi-stage model (DAN, 300-W).

landmarks.json (ferjax.explain.dan_report.landmark_report) and figures/ced.png.
"""

from __future__ import annotations

from pathlib import Path

from ferjax.explain import dan_report
from ferjax.files import write_json


def evaluate(target, out_dir: Path, max_examples: int = 512, batch_size: int = 0) -> dict:
    """Over up to max_examples eval records; batch_size 0 = config.eval.batch_size."""
    restored = target.restored
    report = dan_report.landmark_report(
        restored.model, restored.variables, restored.data, out_dir,
        max_examples=int(max_examples),
        batch_size=int(batch_size) or int(restored.config.eval.batch_size))
    write_json(Path(out_dir) / "landmarks.json", report)
    return report
