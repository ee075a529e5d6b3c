"""Faults tried to the last file a user reads, through launch.py in subprocesses: kill -9
during the final evaluation and during an evaluator's figure writing (the rerun finishes what
is missing and trains no step), SIGTERM during model selection's validation pass, and a full
disk while results.json is written (one error line; the previous file and the checkpoints
intact). Each chain ends with the same results.json, selection state and figures as an
uninterrupted run."""

import json
import os
import signal

import processes
import pytest

pytestmark = pytest.mark.faults

STEPS = 6
# Validation and test splits large enough (3,000 faces each) that their passes take seconds:
# the windows the kills and the SIGTERM must land in.
CONFIG = f"""
import sys
sys.path.insert(0, {str(processes.REPO / 'tests')!r})
from ferjax.data import sources
from toy import toy_config, toy_records

def get_config(arg=None):
    config = toy_config(steps={STEPS}, batch=8)
    config.data.records["validation"] = sources.ListSource(toy_records(3000, 2))
    config.data.records["test"] = sources.ListSource(toy_records(3000, 3))
    config.data.validation_split = "validation"
    config.data.eval_split = "test"
    config.train.log_every = 1
    config.train.eval_every = 3
    config.train.checkpoint_every = 3
    config.train.select = {{"metric": "accuracy", "mode": "max", "patience": 0}}
    config.eval.batch_size = 8
    config.evals.figures = {{"type": "figures"}}
    return config
"""
FIGURES = ("figures/confusion.png", "figures/training_curves.png")


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "selecting.py"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def reference(config_file, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("reference")
    processes.finished(config_file, workdir)
    return workdir


def _train_losses(workdir):
    return {l["step"]: l["loss"] for l in map(json.loads, (workdir / "metrics.jsonl")
                                              .read_text().splitlines())
            if l["split"] == "train"}


def _assert_same_end(workdir, reference):
    """What the user reads: results.json (selection included), the best checkpoint, the
    figures, and every step's train loss."""
    got = json.loads((workdir / "results.json").read_text())
    want = json.loads((reference / "results.json").read_text())
    processes.assert_close(got, want, "results.json", rel=0.0)
    assert got["selection"]["best_step"] == want["selection"]["best_step"]
    best = sorted(p.name for p in (workdir / "checkpoints_best").iterdir() if p.name.isdigit())
    assert best == [str(want["selection"]["best_step"])]
    assert all((workdir / f).is_file() for f in FIGURES)
    assert _train_losses(workdir) == _train_losses(reference)


def _finalized(workdir, step):
    return (workdir / "checkpoints" / str(step) / "_CHECKPOINT_METADATA").is_file()


def _trained_steps(output):
    return [l for l in output.splitlines() if l.startswith("step ")]


def test_kill_during_final_evaluation_then_during_figures_then_rerun(
        config_file, reference, tmp_path):
    workdir = tmp_path / "run"
    run = processes.Run(config_file, workdir)
    run.wait_for(lambda: _finalized(workdir, STEPS))  # the last checkpoint: evaluation next
    run.procs[0].send_signal(signal.SIGKILL)
    assert run.finish() == [-signal.SIGKILL]
    assert "final evaluation" not in run.output(), "the kill came after the evaluation"
    assert not (workdir / "results.json").exists()

    run = processes.Run(config_file, workdir)
    run.wait_for(lambda: (workdir / "results.json").exists(), poll=0.0005)
    run.procs[0].send_signal(signal.SIGKILL)  # the figures evaluator runs after results.json
    assert run.finish() == [-signal.SIGKILL]
    assert not (workdir / FIGURES[1]).exists(), "the kill came after the figures"
    assert _trained_steps(run.output()) == []  # resumed at the end: nothing retrained

    run = processes.finished(config_file, workdir)
    assert f"resumed from checkpoint at step {STEPS}" in run.output()
    assert _trained_steps(run.output()) == []
    _assert_same_end(workdir, reference)


def test_sigterm_during_the_validation_pass(config_file, reference, tmp_path):
    workdir = tmp_path / "run"
    run = processes.Run(config_file, workdir)
    run.wait_for_step(3)  # the validation pass of step 3 starts right after this line
    run.procs[0].send_signal(signal.SIGTERM)
    assert run.finish() == [0], run.outputs()
    out = run.output()
    assert "validation at step 3" in out and "preempted: checkpoint saved at step" in out
    assert not (workdir / "results.json").exists()

    run = processes.finished(config_file, workdir)
    assert "resumed from checkpoint at step" in run.output()
    _assert_same_end(workdir, reference)


def test_full_disk_while_writing_results_keeps_the_previous_file(
        config_file, reference, tmp_path):
    workdir = tmp_path / "run"
    processes.finished(config_file, workdir)
    before = (workdir / "results.json").read_bytes()
    checkpoints = sorted(p.name for p in (workdir / "checkpoints").iterdir())
    # The temporary file results.json is written to, before its rename, is a full device.
    os.symlink("/dev/full", workdir / "results.json.tmp")
    run = processes.Run(config_file, workdir)
    assert run.finish() == [1], run.outputs()
    errors = [l for l in run.output().splitlines() if l.startswith("error:")]
    assert errors == [f"error: could not write {workdir / 'results.json'} (No space left on "
                      "device); the previous file is intact"], run.outputs()
    assert "Traceback" not in run.output()
    assert (workdir / "results.json").read_bytes() == before
    assert not (workdir / "results.json.tmp").exists()
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == checkpoints
    processes.finished(config_file, workdir)  # with space again, the same command finishes
    _assert_same_end(workdir, reference)
