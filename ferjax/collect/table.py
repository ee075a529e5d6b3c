"""Groups runs by their swept fields and summarises each metric as mean ± std over seeds."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from typing import Sequence

import numpy as np

from ferjax.collect.runs import Run, group_fields

# Metrics stored as fractions and shown in percent.
PERCENT = ("accuracy", "macro_precision", "macro_recall", "macro_f1")
DEFAULT_METRICS = ("accuracy", "macro_f1")


@dataclasses.dataclass
class Group:
    """The runs that differ only in their seed.

    values: {metric: finished runs' values}; missing: "seed=1: failed (error)" for each run
    without results.
    """
    labels: dict[str, str]
    runs: list[Run]

    @property
    def finished(self) -> list[Run]:
        return [r for r in self.runs if r.status == "finished"]

    def values(self, metric: str) -> np.ndarray:
        return np.array([r.metrics[metric] for r in self.finished if metric in r.metrics])

    def missing(self) -> list[str]:
        out = []
        for r in self.runs:
            if r.status != "finished":
                seed = r.labels.get("seed")
                who = f"seed={seed}" if seed is not None else r.name
                out.append(f"{who}: {r.status}" + (f" ({r.error})" if r.error else ""))
        return out


def group(runs: Sequence[Run]) -> tuple[list[str], list[Group]]:
    """(group fields, groups in first-appearance order)."""
    fields = group_fields(list(runs))
    groups: dict[tuple, Group] = {}
    for r in runs:
        key = tuple(r.labels.get(f, "") for f in fields)
        groups.setdefault(key, Group(dict(zip(fields, key)), [])).runs.append(r)
    return fields, list(groups.values())


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; NaN for a single value)."""
    if len(values) == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan


def format_stat(metric: str, values: np.ndarray) -> str:
    """'85.3 ± 1.2' (percent metrics) / '0.0563 ± 0.0012'; '—' without values."""
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "—"
    scale, digits = (100.0, 1) if metric.split("/")[0] in PERCENT else (1.0, 4)
    text = f"{mean * scale:.{digits}f}"
    return text if math.isnan(std) else f"{text} ± {std * scale:.{digits}f}"


def summary_rows(runs: Sequence[Run], metrics: Sequence[str] = DEFAULT_METRICS
                 ) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the grouped table: fields, metrics, finished seeds, what is missing."""
    fields, groups = group(runs)
    header = [*fields, *metrics, "seeds", "not finished"]
    rows = []
    for g in groups:
        rows.append([*(g.labels[f] for f in fields),
                     *(format_stat(m, g.values(m)) for m in metrics),
                     f"{len(g.finished)}/{len(g.runs)}", "; ".join(g.missing())])
    return header, rows


def csv_rows(runs: Sequence[Run], metrics: Sequence[str] = DEFAULT_METRICS) -> str:
    """The grouped table as CSV with raw numbers: <metric>_mean, <metric>_std, n_finished."""
    fields, groups = group(runs)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*fields, *(f"{m}_{s}" for m in metrics for s in ("mean", "std")),
                     "n_finished", "n_runs", "not_finished"])
    for g in groups:
        stats = [v for m in metrics for v in mean_std(g.values(m))]
        writer.writerow([*(g.labels[f] for f in fields),
                         *("" if math.isnan(v) else f"{v:.6g}" for v in stats),
                         len(g.finished), len(g.runs), "; ".join(g.missing())])
    return out.getvalue()


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> str:
    """A GitHub markdown table (with an optional title line)."""
    lines = [f"**{title}**", ""] if title else []
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
