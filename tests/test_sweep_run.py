"""Sweeps end to end in subprocesses: parallel run, kill, rerun without redoing, collect; a
failing point recorded while the others go on."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from ferjax.collect import runs
from ferjax.collect.__main__ import collect
from ferjax.sweep import expand, manifest

REPO = Path(__file__).resolve().parents[1]
SUN = "configs/sun_attention.py:runlocal"


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_", "JAX_"))}
    env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1",
               JAX_DISABLE_MOST_OPTIMIZATIONS="true")  # compile time dominates these runs
    return env


def _sweep_command(sweep_dir, config=SUN, *flags):
    return [sys.executable, "-m", "ferjax.sweep", f"--config={config}",
            f"--workdir={sweep_dir}", *flags]


def test_parallel_sweep_survives_a_kill_and_collects_four_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    sweep_dir = tmp_path / "sun"
    command = _sweep_command(sweep_dir, SUN, "--parallel=2",
                             "--launch_flag=--config.evals.attention.max_examples=16")
    points = expand.expand(SUN, sweep_dir)
    assert len(points) == 4  # 2 weight maps x 2 seeds
    proc = subprocess.Popen(command, cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 900
    while not any((p.workdir / "results.json").exists() for p in points):
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() < deadline, "no point finished in time"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its running points, without warning
    proc.wait()
    proc.stdout.close()
    while True:  # until the killed points have exited too
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.time() < deadline
        time.sleep(0.1)
    done = {p.name: (p.workdir / "results.json").stat().st_mtime_ns for p in points
            if (p.workdir / "results.json").exists()}
    assert 1 <= len(done) < 4
    states = {e["name"]: e["status"] for e in manifest.read_manifest(sweep_dir)["points"]}
    assert all(states[n] == "finished" for n in done)
    assert all(s in ("pending", "interrupted") for n, s in states.items() if n not in done), states
    resumable = [p for p in points if states[p.name] == "interrupted"
                 and manifest.has_checkpoints(p.workdir)]

    rerun = subprocess.run(command, cwd=REPO, env=_env(), capture_output=True, text=True,
                           timeout=1200)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    for p in points:
        log = (p.workdir / manifest.LOG).read_text()
        if p.name in done:  # finished points are not run again
            assert f"[{p.name}] finished, skipped" in rerun.stdout
            assert (p.workdir / "results.json").stat().st_mtime_ns == done[p.name]
            assert log.count("=== ") == 1
        if p in resumable:
            assert f"[{p.name}] interrupted earlier: resuming" in rerun.stdout
            assert "resumed from checkpoint at step" in log
    final = manifest.read_manifest(sweep_dir)
    assert final["counts"]["finished"] == 4

    loaded = runs.load(sweep_dir)
    assert [r.status for r in loaded] == ["finished"] * 4
    assert all(0.0 <= r.metrics["accuracy"] <= 1.0 for r in loaded)
    text = collect(sweep_dir)
    rows = [l for l in text.splitlines() if l.startswith("| free") or l.startswith("| symm")]
    assert len(rows) == 2 and all("| 2/2 |" in l for l in rows)


def test_failing_point_is_recorded_and_the_others_go_on(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    cfg = tmp_path / "toysweep.py"
    cfg.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO / 'tests')!r})
        from toy import toy_config
        from ferjax.sweep import spec

        def get_config(arg=None):
            c = toy_config(steps=2, batch=8)
            c.train.init_from = ""
            return c

        def get_sweep(arg=None):
            # A run-time failure (no checkpoint to start from), which no check before the
            # start can see: a misspelt field or value fails the whole sweep up front instead.
            return spec.product(spec.axis("train.init_from", ["no_such_run", ""]),
                                spec.seeds(1))
    """))
    sweep_dir = tmp_path / "toy"
    # A second process of a multi-process point (as SLURM's srun starts it) logs on its own
    # and leaves the point's status to process 0.
    side = subprocess.run(_sweep_command(sweep_dir, str(cfg), "--point=0"), cwd=REPO,
                          env={**_env(), "SLURM_PROCID": "1"}, capture_output=True, text=True,
                          timeout=900)
    assert side.returncode == 1 and "[train.init_from=no_such_run,seed=0] failed" in side.stdout
    point_dir = sweep_dir / "train.init_from=no_such_run,seed=0"
    assert "no_such_run" in (point_dir / "launch.1.log").read_text()
    assert not (point_dir / manifest.STATUS).exists() and not (point_dir / manifest.LOG).exists()

    out = subprocess.run(_sweep_command(sweep_dir, str(cfg)), cwd=REPO, env=_env(),
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    points = manifest.read_manifest(sweep_dir)["points"]
    assert [p["status"] for p in points] == ["failed", "finished"]
    assert "no_such_run" in points[0]["error"]
    assert points[0]["log"].endswith("launch.log") and Path(points[0]["log"]).is_file()
    assert "failed train.init_from=no_such_run,seed=0: " in out.stdout
    text = collect(sweep_dir)
    assert "| no_such_run | — | — | 0/1 | seed=0: failed (" in text
    assert "| 1/1 |" in text, text
    assert json.loads((sweep_dir / "sweep.json").read_text())["counts"]["failed"] == 1
