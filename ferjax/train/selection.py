"""Model selection on a validation split: which evaluation is the best, and when to stop.

config.train.select = {"metric": "accuracy", "mode": "max", "patience": 0} names a scalar of the
trainer's evaluation (available_metrics), whether larger ("max") or smaller ("min") is better,
and after how many evaluations without improvement training stops (0: never). The state is a
small immutable record, saved with every checkpoint (as JSON), so a resumed run keeps its
best-so-far and its patience count.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterable, Mapping, Sequence

import numpy as np

MODES = ("max", "min")
# The scalars of ferjax.evaluation.metrics.classification_report a run can select on.
CLASSIFICATION_METRICS = ("accuracy", "macro_precision", "macro_recall", "macro_f1")


class UnknownMetricError(ValueError):
    """config.train.select.metric names a metric the run's evaluation does not compute."""


@dataclasses.dataclass(frozen=True)
class Criterion:
    """metric: a key of the evaluation result; mode: "max" or "min"; patience: evaluations
    without improvement before stopping (0: never stop early)."""
    metric: str = "accuracy"
    mode: str = "max"
    patience: int = 0

    def improves(self, value: float, best: float | None) -> bool:
        """Whether `value` beats `best` strictly (a NaN never does; anything beats None)."""
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        return value > best if self.mode == "max" else value < best


def criterion(train_cfg) -> Criterion:
    """The Criterion of config.train.select (defaults for missing fields); ValueError naming
    the field on a bad mode or patience."""
    select = dict(train_cfg.get("select", {}) or {})
    unknown = sorted(set(select) - {"metric", "mode", "patience"})
    if unknown:
        raise ValueError(f"config.train.select has unknown fields {unknown}; expected metric, "
                         "mode, patience")
    c = Criterion(str(select.get("metric", "accuracy")), str(select.get("mode", "max")),
                  int(select.get("patience", 0)))
    if c.mode not in MODES:
        raise ValueError(f"config.train.select.mode={c.mode!r}; expected one of {MODES}")
    if c.patience < 0:
        raise ValueError(f"config.train.select.patience={c.patience}; expected >= 0 "
                         "(0: no early stopping)")
    return c


def available_metrics(loss_names: Iterable[str]) -> tuple[str, ...]:
    """The scalar metrics the trainer's evaluation reports: the classification scalars, "loss"
    and "loss/<term>" of every configured loss term (e.g. "loss/landmark_nme", the landmark
    NME)."""
    names = list(CLASSIFICATION_METRICS)
    loss_names = list(loss_names)
    if loss_names:
        names += ["loss", *(f"loss/{n}" for n in loss_names)]
    return tuple(names)


def check_metric(c: Criterion, available: Sequence[str]) -> None:
    """UnknownMetricError naming config.train.select.metric and the available metrics."""
    if c.metric not in available:
        raise UnknownMetricError(
            f"config.train.select.metric={c.metric!r} is not computed by this run's evaluation; "
            f"available: {sorted(available)}")


@dataclasses.dataclass(frozen=True)
class SelectionState:
    """history: (step, value) of every validation evaluation so far, in order; best_step,
    best_value, best_scores: the best evaluation (its step, the selection metric, and all its
    scalars); since_best: evaluations after the best one."""
    history: tuple[tuple[int, float | None], ...] = ()
    best_step: int | None = None
    best_value: float | None = None
    best_scores: Mapping[str, float] = dataclasses.field(default_factory=dict)
    since_best: int = 0

    def to_json(self) -> dict:
        """A strict-JSON dict (NaN values become null)."""
        return {"history": [[s, v] for s, v in self.history], "best_step": self.best_step,
                "best_value": self.best_value, "best_scores": dict(self.best_scores),
                "since_best": self.since_best}

    @classmethod
    def from_json(cls, d: Mapping | None) -> "SelectionState":
        if not d:
            return cls()
        return cls(tuple((int(s), v) for s, v in d.get("history", ())), d.get("best_step"),
                   d.get("best_value"), dict(d.get("best_scores", {})), int(d.get("since_best", 0)))

    def without_best(self) -> "SelectionState":
        """The same history with no best (its checkpoint is gone): the next evaluation wins."""
        return dataclasses.replace(self, best_step=None, best_value=None, best_scores={},
                                   since_best=0)


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def scalars(result: Mapping) -> dict:
    """The finite scalar entries of an evaluation result (strict-JSON safe)."""
    out = {}
    for k, v in result.items():
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out[k] = int(v)
        elif isinstance(v, (float, np.floating)) and math.isfinite(v):
            out[k] = float(v)
    return out


def observe(state: SelectionState, c: Criterion, step: int, result: Mapping
            ) -> tuple[SelectionState, bool]:
    """Records the validation evaluation `result` at `step`; returns (new state, improved).

    Raises UnknownMetricError when result has no c.metric (naming the scalars it has)."""
    if c.metric not in result:
        check_metric(c, sorted(scalars(result)))
    value = float(result[c.metric])
    history = (*state.history, (int(step), _finite_or_none(value)))
    if c.improves(value, state.best_value):
        return SelectionState(history, int(step), value, scalars(result), 0), True
    return dataclasses.replace(state, history=history, since_best=state.since_best + 1), False


def should_stop(state: SelectionState, c: Criterion) -> bool:
    """Early stopping: `patience` evaluations in a row without improvement (never at 0)."""
    return c.patience > 0 and state.since_best >= c.patience


def eval_interval(eval_every: int, steps_per_epoch: int, selecting: bool) -> int:
    """Steps between periodic evaluations: eval_every > 0 as given; -1 every epoch; 0 every
    epoch when selecting on a validation split, else none (0: evaluate only at the end)."""
    if eval_every > 0:
        return int(eval_every)
    if eval_every == -1 or (eval_every == 0 and selecting):
        return max(1, int(steps_per_epoch))
    if eval_every == 0:
        return 0
    raise ValueError(f"config.train.eval_every={eval_every}; expected a number of steps > 0, "
                     "0 (at the end; every epoch when selecting) or -1 (every epoch)")


def results(test_at_best: Mapping, test_at_last: Mapping, state: SelectionState, c: Criterion,
            *, last_step: int, validation: str, stopped_early: bool) -> dict:
    """results.json of a selecting run: the test split at the best checkpoint as the top-level
    keys (those of a run without selection; "step" = the best step), the test split at the last
    checkpoint under "last", and how the model was selected under "selection"."""
    best_step = last_step if state.best_step is None else state.best_step
    return {**test_at_best, "step": best_step,
            "last": {**test_at_last, "step": last_step},
            "selection": {"metric": c.metric, "mode": c.mode, "patience": c.patience,
                          "validation": validation, "best_step": state.best_step,
                          "best_value": state.best_value,
                          "validation_at_best": dict(state.best_scores),
                          "evaluations": [[s, v] for s, v in state.history],
                          "stopped_early": bool(stopped_early), "last_step": last_step}}
