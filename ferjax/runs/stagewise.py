"""Protocol "stagewise": multi-stage models (DAN, EmotionalDAN) trained one phase at a time.

Phase "stage_1" trains stage 1 with config.stagewise.first_stage's losses, optimiser and
schedule (the paper's: landmark NME only, Adam 1e-3). Phase "stage_t", t ≥ 2, trains stage t
with the stages before it frozen, with config.losses, config.train.optimizer and
config.train.schedule (the paper's: α·NME + β·CE, SGD, triangular cyclical LR). An optional
last phase "fine_tune" trains all stages together.

Freezing is done twice, on purpose: the model runs frozen stages in inference mode under
stop_gradient (config.model.frozen_stages: BN statistics untouched, no dropout, no gradient),
and the trainer's config.train.trainable regex ("^stage_t/") gives every other parameter a zero
update (optax.set_to_zero), so neither optimiser state nor weight decay can move them.

Each phase is an ordinary training run (ferjax.train.loop.train) in workdir/<phase>,
initialised from the previous phase's last checkpoint (config.train.init_from). The evaluators
named in config.stagewise.phase_evals run in every phase's directory (a phase whose
results.json exists is complete and skipped, so rerunning the same command resumes); the other
evaluators of config.evals run once, on the final phase's model, writing into workdir.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

from ferjax.files import write_json
from ferjax.runs import evaluators
from ferjax.runs.result import RunResult
from ferjax.train import host_local, loop


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase: `stage` trains for `steps` steps (all stages ≤ stage when fine-tuning).

    steps ≤ 0 means config.train.num_epochs epochs, as for a single run.
    """
    name: str
    stage: int
    steps: int
    fine_tune_all: bool = False


def phases(config) -> list[Phase]:
    """The phases config.stagewise asks for: stage_1 .. stage_T, then fine_tune if its steps > 0."""
    num_stages = int(config.model.get("num_stages", 2))
    sw = config.stagewise
    result = [Phase("stage_1", 1, int(sw.first_stage_steps))]
    result += [Phase(f"stage_{t}", t, int(sw.stage_steps)) for t in range(2, num_stages + 1)]
    if int(sw.get("fine_tune_steps", 0)) > 0:
        result.append(Phase("fine_tune", num_stages, int(sw.fine_tune_steps), True))
    return result


def phase_config(config, phase: Phase, init_from: str = ""):
    """The single-run config of `phase`: a copy of `config` with the phase's overrides."""
    cfg = config.copy_and_resolve_references()
    with cfg.unlocked():
        cfg.protocol = "holdout"
        cfg.model.active_stages = phase.stage
        cfg.model.frozen_stages = 0 if phase.fine_tune_all else phase.stage - 1
        cfg.train.num_steps = phase.steps
        cfg.train.trainable = "" if phase.fine_tune_all else f"^stage_{phase.stage}/"
        cfg.train.init_from = init_from
        if phase.stage == 1 and not phase.fine_tune_all:
            first = cfg.stagewise.first_stage
            cfg.losses = copy.deepcopy(first.losses)
            cfg.train.optimizer = copy.deepcopy(first.optimizer)
            cfg.train.schedule = copy.deepcopy(first.schedule)
            _first_stage_selection(cfg, first)
        elif phase.fine_tune_all and "fine_tune_schedule" in cfg.stagewise:
            cfg.train.schedule = copy.deepcopy(cfg.stagewise.fine_tune_schedule)
    return cfg


def _first_stage_selection(cfg, first) -> None:
    """Stage 1 trained "until validation error stops improving" (EmotionalDAN, after DAN):
    config.stagewise.first_stage.select (ferjax.train.selection's criterion, e.g. the landmark
    NME "loss/landmark_nme", mode min, patience > 0 for early stopping) on the validation data
    first_stage.validation_split / validation_fraction name (default: config.data's), evaluated
    every first_stage.eval_every steps (0: every epoch). The next stage starts from the best
    stage-1 checkpoint (init_from restores a run's selected model)."""
    if "select" not in first:
        return
    cfg.train.select = copy.deepcopy(first.select)
    for field in ("validation_split", "validation_fraction"):
        if first.get(field):
            cfg.data[field] = first[field]
    if "eval_every" in first:
        cfg.train.eval_every = int(first.eval_every)
    if not (cfg.data.get("validation_split") or cfg.data.get("validation_fraction")):
        raise ValueError("config.stagewise.first_stage.select stops stage 1 on a validation "
                         "split, but none is set: set config.stagewise.first_stage."
                         "validation_fraction (subject-disjoint hold-out of train) or "
                         "validation_split")


def _phase_evals(config) -> tuple[str, ...]:
    names = tuple(config.stagewise.get("phase_evals", ()))
    unknown = [n for n in names if n not in config.get("evals", {})]
    if unknown:
        raise ValueError(f"config.stagewise.phase_evals names {unknown}, which config.evals "
                         f"does not declare (it has {sorted(config.get('evals', {}))})")
    return names


def run(config, workdir: Path) -> RunResult:
    """Runs every phase in workdir/<phase>, writes workdir/stagewise.json, then the evaluators.

    The summary maps each phase to its final evaluation's numbers (accuracy, loss terms such as
    "loss/landmark_nme", the mean inter-pupil NME of the stage's output when that term is
    configured), plus "phases" in order. A preempted phase stops the run (rerun to resume).
    """
    evaluators.check(config)
    per_phase = _phase_evals(config)
    summary: dict[str, Any] = {"phases": []}
    models: list[loop.TrainedModel] = []
    previous = ""
    for phase in phases(config):
        phase_dir = workdir / phase.name
        done = phase_dir / "results.json"
        cfg = phase_config(config, phase, previous)
        if done.exists():
            trained = loop.TrainedModel(phase_dir, cfg, None, json.loads(done.read_text()))
        else:
            trained = loop.train(cfg, phase_dir)
            if trained.preempted:
                summary.update({"preempted": True, "phase": phase.name})
                return RunResult(workdir, (*models, trained), summary, preempted=True)
            evaluators.run_all(config, trained, phase_dir, only=per_phase)
        models.append(trained)
        summary["phases"].append(phase.name)
        summary[phase.name] = {k: v for k, v in trained.result.items()
                               if isinstance(v, (int, float)) and not isinstance(v, bool)}
        previous = str(phase_dir)
    host_local.run_on_main(f"stage-wise summary in {workdir}",
                           lambda: write_json(workdir / "stagewise.json", summary))
    final = [n for n in config.get("evals", {}) if n not in per_phase]
    evals = evaluators.run_all(config, models[-1], workdir, only=final)
    return RunResult(workdir, tuple(models), summary, evals)
