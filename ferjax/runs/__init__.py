"""Runners: what `config.protocol` names, from one training run to k folds or stage-wise phases.

A runner trains with the engine (ferjax.train.loop.train), runs the evaluators the config
declares (config.evals, ferjax.runs.evaluators) on what it trained, and returns a RunResult.
launch.py calls `run(config, workdir)`; a new protocol is one module here and one line in
_RUNNERS.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

# protocol name -> "module:function" taking (config, workdir) and returning a RunResult.
_RUNNERS: dict[str, str] = {
    "holdout": "ferjax.runs.holdout:run",
    "kfold": "ferjax.runs.kfold:run",
    "stagewise": "ferjax.runs.stagewise:run",
}


def names() -> list[str]:
    return sorted(_RUNNERS)


def get(protocol: str) -> Callable:
    """The runner of `protocol`; ValueError naming config.protocol and the choices."""
    if protocol not in _RUNNERS:
        raise ValueError(f"config.protocol={protocol!r} is not a runner; choose one of "
                         f"{names()}")
    module_name, fn = _RUNNERS[protocol].split(":")
    return getattr(importlib.import_module(module_name), fn)


def run(config, workdir: str | Path):
    """Runs config with the runner config.protocol names; returns its RunResult."""
    return get(config.protocol)(config, Path(workdir))
