"""Stage-wise training of multi-stage models (DAN, EmotionalDAN): one trainer run per phase.

Phase "stage_1" trains stage 1 with config.stagewise.first_stage's losses, optimiser and
schedule (the paper's: landmark NME only, Adam 1e-3). Phase "stage_t", t ≥ 2, trains stage t
with the stages before it frozen, with config.losses, config.train.optimizer and
config.train.schedule (the paper's: α·NME + β·CE, SGD, triangular cyclical LR). An optional
last phase "fine_tune" trains all stages together.

Freezing is done twice, on purpose: the model runs frozen stages in inference mode under
stop_gradient (config.model.frozen_stages: BN statistics untouched, no dropout, no gradient),
and the trainer's config.train.trainable regex ("^stage_t/") gives every other parameter a zero
update (optax.set_to_zero), so neither optimiser state nor weight decay can move them.

Each phase is an ordinary run of ferjax.train.loop.train_and_evaluate in workdir/<phase>,
initialised from the previous phase's last checkpoint (config.train.init_from). A phase whose
results.json exists is complete and skipped, so rerunning the same command resumes.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import jax


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
        elif phase.fine_tune_all and "fine_tune_schedule" in cfg.stagewise:
            cfg.train.schedule = copy.deepcopy(cfg.stagewise.fine_tune_schedule)
    return cfg


def run(config, workdir: str | Path) -> dict[str, Any]:
    """Runs every phase in workdir/<phase>; writes workdir/stagewise.json; returns its content.

    With a config.report section, the final model is then analysed (ferjax.explain.dan_report:
    workdir/dan_report.json and workdir/figures/).

    The content maps each phase to its final evaluation (accuracy, loss terms such as
    "loss/landmark_nme", the mean inter-pupil NME of the stage's output when that term is
    configured), plus "phases" in order. A preempted phase stops the run (rerun to resume).
    """
    from ferjax.train import loop  # the loop imports the data stack; only needed to run

    workdir = Path(workdir)
    summary: dict[str, Any] = {"phases": []}
    previous = ""
    for phase in phases(config):
        phase_dir = workdir / phase.name
        done = phase_dir / "results.json"
        if done.exists():
            result = json.loads(done.read_text())
        else:
            result = loop.train_and_evaluate(phase_config(config, phase, previous), phase_dir)
            if result.get("preempted"):
                return {**summary, "preempted": True, "phase": phase.name}
        summary["phases"].append(phase.name)
        summary[phase.name] = {k: v for k, v in result.items()
                               if isinstance(v, (int, float)) and not isinstance(v, bool)}
        previous = str(phase_dir)
    if jax.process_index() == 0:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "stagewise.json").write_text(json.dumps(summary, indent=2))
        report = workdir / "dan_report.json"
        if "report" in config and report.exists():
            summary["report"] = json.loads(report.read_text())
        elif "report" in config:
            from ferjax.explain import dan_report
            summary["report"] = dan_report.write_report(config, previous, workdir)
        if config.get("cross_dataset") and config.cross_dataset.columns:
            summary["cross_dataset"] = _cross_dataset(config, previous, workdir)
    return summary


def _cross_dataset(config, run_dir: str, workdir: Path) -> dict[str, float]:
    """Tests the final model on config.cross_dataset; writes cross_dataset.{json,md}."""
    from ferjax import labels
    from ferjax.evaluation import cross_dataset

    columns = {name: dict(config.cross_dataset.sets[name])
               for name in config.cross_dataset.columns}
    scores = cross_dataset.evaluate_run(config, run_dir, columns)
    classes = len(labels.label_space_classes(config.data.label_space))
    row = f"{config.model.name} ({classes} classes, trained on {config.data.name})"
    (workdir / "cross_dataset.json").write_text(json.dumps({row: scores}, indent=2))
    (workdir / "cross_dataset.md").write_text(cross_dataset.table_markdown(
        {row: scores}, list(columns), title="Cross-dataset accuracy"))
    return scores
