"""What a runner returns: the models it trained and what its evaluators found."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ferjax.train.loop import TrainedModel


@dataclasses.dataclass(frozen=True)
class RunResult:
    """workdir: the run's directory. models: every model trained, in order (holdout: one;
    kfold: one per fold; stagewise: one per phase, the last being the final model).
    summary: the runner's own summary (holdout: the final evaluation; kfold: crossval.json;
    stagewise: stagewise.json). evals: {evaluator name: its result} of the final model(s)
    (kfold: {fold index: {name: result}}). preempted: a preemption stopped the run; rerun the
    same command to resume."""
    workdir: Path
    models: tuple[TrainedModel, ...]
    summary: dict
    evals: dict = dataclasses.field(default_factory=dict)
    preempted: bool = False
