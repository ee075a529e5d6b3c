"""Reads a sweep folder: every point's labels, status, resolved config and result scalars."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ferjax.sweep import expand, manifest, spec


@dataclasses.dataclass
class Run:
    """One sweep point as the tables see it.

    labels: the swept fields as shown (e.g. {"variant": "free", "seed": "0"}); status: one of
    ferjax.sweep.manifest.STATES; config: the resolved config.json the run wrote ({} before
    it started); metrics: scalar results (accuracy, macro_f1, ..., "cross/<test set>",
    "table5/<layer>/<emotion>") when finished.
    """
    name: str
    labels: dict[str, str]
    status: str
    error: str
    log: str
    config: dict[str, Any]
    metrics: dict[str, float]


def _resolved_config(workdir: Path) -> dict[str, Any]:
    """The first config.json under the point (holdout: its own; k-fold/stage-wise: a part's)."""
    found = sorted(workdir.glob("config.json")) or sorted(workdir.glob("*/config.json"))
    return json.loads(found[0].read_text()) if found else {}


def _scalars(obj: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in obj.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def run_metrics(workdir: Path) -> dict[str, float]:
    """The finished point's scalars, with its cross-dataset and Grad-CAM AU scores if any."""
    result = manifest.read_result(workdir)
    if result is None:
        return {}
    metrics = _scalars(result)
    cross = workdir / "cross_dataset.json"
    if cross.is_file():
        for scores in json.loads(cross.read_text()).values():
            metrics.update({f"cross/{k}": float(v) for k, v in scores.items()})
    report = workdir / "dan_report.json"
    if report.is_file():
        for layer, rows in json.loads(report.read_text()).get("table5", {}).items():
            for emotion, score in (rows.get("paper_sets") or {}).items():
                metrics[f"table5/{layer}/{emotion}"] = float(score)
    return metrics


def load(sweep_dir: str | Path) -> list[Run]:
    """Every point of the sweep in manifest order, with its current status."""
    sweep_dir = Path(sweep_dir)
    state = manifest.read_manifest(sweep_dir)
    runs = []
    for entry in state["points"]:
        workdir = Path(entry["workdir"])
        labels = dict(expand.label(k, v) for k, v in entry["overrides"].items())
        runs.append(Run(entry["name"], labels, entry["status"], entry.get("error", ""),
                        entry["log"], _resolved_config(workdir), run_metrics(workdir)))
    return runs


def group_fields(runs: list[Run]) -> list[str]:
    """The swept fields other than the seed, in declaration order."""
    fields: list[str] = []
    for r in runs:
        fields += [k for k in r.labels if k != spec.SEED and k not in fields]
    return fields
