"""Protocol "holdout": one model trained on config.data's train split, tested on its eval split."""

from __future__ import annotations

from pathlib import Path

from ferjax.runs import evaluators
from ferjax.runs.result import RunResult
from ferjax.train import loop


def run(config, workdir: Path) -> RunResult:
    """Trains in workdir (every process), then runs config.evals there (process 0; the others
    wait for it: ferjax.train.host_local)."""
    evaluators.check(config)
    trained = loop.train(config, workdir)
    if trained.preempted:
        return RunResult(workdir, (trained,), trained.result, preempted=True)
    evals = evaluators.run_all(config, trained, workdir)
    return RunResult(workdir, (trained,), trained.result, evals)
