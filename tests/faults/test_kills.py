"""Fault injection through launch.py in subprocesses: SIGTERM and SIGKILL at random (seeded)
steps of a 1-process and a 2-process run on 127.0.0.1, a SIGKILL during a checkpoint write, and
a dead peer. Every chain of interruptions ends with a rerun whose results equal an
uninterrupted run's bit for bit (a 2-process run is compared with 1 process on 2 devices: the
results depend on the number of devices, not of processes)."""

import json
import signal
import textwrap
import time
from pathlib import Path

import numpy as np
import processes as processes_lib
import pytest
from processes import Run

pytestmark = pytest.mark.faults

REPO = Path(__file__).resolve().parents[2]
STEPS = 12
# Two processes agree on a preemption step asynchronously (jax's preemption sync): a SIGTERM
# needs steps left after it, or a loaded machine finishes the run before the agreement.
STEPS_2 = 24
TERM_MARGIN = STEPS_2 // 2
PEER_TIMEOUT_S = processes_lib.PEER_TIMEOUT_S
RNG = np.random.default_rng(16)


def _config_file(tmp_path_factory, steps: int):
    path = tmp_path_factory.mktemp("cfg") / "faultcfg.py"
    path.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO / 'tests')!r})
        from toy import toy_config

        def get_config(arg=None):
            config = toy_config(steps={steps}, batch=8)
            config.train.log_every = 1
            return config
    """))
    return path


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    return _config_file(tmp_path_factory, STEPS)


@pytest.fixture(scope="module")
def config_file_2(tmp_path_factory):
    return _config_file(tmp_path_factory, STEPS_2)


def _finished(config_file, workdir, processes=1, devices=1) -> str:
    return processes_lib.finished(config_file, workdir, processes, devices).output()


def _resumed_step(output: str) -> int:
    line = [l for l in output.splitlines() if l.startswith("resumed from checkpoint at step")]
    return int(line[0].rsplit(" ", 1)[1]) if line else 0


def _assert_same_results(workdir: Path, reference: Path, eval_loss_rel: float = 0.0):
    """Every step's train loss bit-identical, the same confusion matrix, and the same final
    evaluation loss (to `eval_loss_rel`: 2 processes gather and sum the evaluation in another
    order than 1 process does)."""
    train = {l["step"]: l["loss"] for l in map(json.loads, (workdir / "metrics.jsonl")
                                               .read_text().splitlines()) if l["split"] == "train"}
    ref = {l["step"]: l["loss"] for l in map(json.loads, (reference / "metrics.jsonl")
                                             .read_text().splitlines()) if l["split"] == "train"}
    assert train == ref  # log_every = 1: every step's loss, none missing or repeated
    got = json.loads((workdir / "results.json").read_text())
    want = json.loads((reference / "results.json").read_text())
    assert got["confusion"] == want["confusion"]
    assert got["loss"] == pytest.approx(want["loss"], rel=eval_loss_rel, abs=0.0)


def _tmp_checkpoint(workdir: Path, after: int):
    folder = workdir / "checkpoints"
    if not folder.is_dir():
        return None
    for p in folder.iterdir():
        step = p.name.split(".")[0]
        if ".orbax-checkpoint-tmp" in p.name and step.isdigit() and int(step) > after:
            return p
    return None


@pytest.fixture(scope="module")
def reference_1(config_file, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ref1")
    _finished(config_file, workdir)
    return workdir


@pytest.fixture(scope="module")
def reference_2_devices(config_file_2, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ref2")
    _finished(config_file_2, workdir, devices=2)
    return workdir


def test_one_process_sigterm_sigkill_and_kill_during_checkpoint_write(
        config_file, reference_1, tmp_path):
    workdir = tmp_path / "run"
    term_at, kill_at = sorted(RNG.choice(np.arange(2, STEPS - 3), size=2, replace=False))

    run = Run(config_file, workdir)
    run.wait_for_step(term_at)
    run.procs[0].send_signal(signal.SIGTERM)
    assert run.finish() == [0], run.output()[-3000:]
    assert "preempted: checkpoint saved at step" in run.output()

    run = Run(config_file, workdir)
    run.wait_for_step(kill_at + 1)
    run.procs[0].send_signal(signal.SIGKILL)
    assert run.finish() == [-signal.SIGKILL]

    run = Run(config_file, workdir)
    run.wait_for(lambda: _resumed_step(run.output()) or None)
    resumed = _resumed_step(run.output())
    run.wait_for(lambda: _tmp_checkpoint(workdir, resumed) is not None)
    run.procs[0].send_signal(signal.SIGKILL)
    assert run.finish() == [-signal.SIGKILL]
    assert _tmp_checkpoint(workdir, resumed) is not None, "the kill came after the write"

    output = _finished(config_file, workdir)
    assert _resumed_step(output) >= resumed
    _assert_same_results(workdir, reference_1)


def test_two_processes_sigterm_then_dead_peer_then_resume(
        config_file_2, reference_2_devices, tmp_path):
    workdir = tmp_path / "run"
    term_at = int(RNG.integers(2, STEPS_2 - TERM_MARGIN))
    kill_at = int(RNG.integers(term_at + 1, STEPS_2 - 2))
    target = int(RNG.integers(0, 2))

    run = Run(config_file_2, workdir, processes=2)
    run.wait_for_step(term_at)
    run.procs[target].send_signal(signal.SIGTERM)  # one process: jax tells the other
    assert run.finish() == [0, 0], run.output(0)[-2000:] + run.output(1)[-2000:]
    assert "preempted: checkpoint saved at step" in run.output(0)
    saved = max(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert saved < STEPS_2

    run = Run(config_file_2, workdir, processes=2)
    run.wait_for_step(max(kill_at, saved + 1))
    run.procs[1].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    code = run.procs[0].wait(timeout=120)
    waited = time.monotonic() - killed
    run.finish()
    assert code == 1, run.output(0)[-3000:]
    errors = [l for l in run.output(0).splitlines() if l.startswith("error:")]
    assert len(errors) == 1, run.output(0)[-3000:]
    # A collective that notices the broken connection fails at once; one that stays blocked
    # waits for the watchdog's timeout.
    assert ("process 1 of 2 sent no heartbeat" in errors[0]
            or "a collective failed because another process is gone" in errors[0]), errors
    assert waited <= PEER_TIMEOUT_S + 10, waited
    assert "Traceback" not in run.output(0)

    run = Run(config_file_2, workdir, processes=2)
    assert run.finish() == [0, 0], run.output(0)[-2000:] + run.output(1)[-2000:]
    assert _resumed_step(run.output(0)) > 0
    _assert_same_results(workdir, reference_2_devices, eval_loss_rel=1e-6)


def test_two_processes_sigusr1_is_a_preemption_too(config_file_2, reference_2_devices, tmp_path):
    """SLURM's --signal=USR1@<grace> warning to one process of a multi-process job: passed on
    as a SIGTERM to jax's preemption agreement, so both processes save at the same step."""
    workdir = tmp_path / "run"
    run = Run(config_file_2, workdir, processes=2)
    run.wait_for_step(4)
    run.procs[1].send_signal(signal.SIGUSR1)
    assert run.finish() == [0, 0], run.output(0)[-2000:] + run.output(1)[-2000:]
    assert "preempted: checkpoint saved at step" in run.output(0)
    saved = max(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert saved < STEPS_2
    output = _finished(config_file_2, workdir, processes=2)
    assert _resumed_step(output) == saved
    _assert_same_results(workdir, reference_2_devices, eval_loss_rel=1e-6)
