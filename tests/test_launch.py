"""launch.py end to end in subprocesses: overrides, SIGTERM + resume, two processes on 127.0.0.1."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy_config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "toycfg.py"
    path.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO / 'tests')!r})
        from toy import toy_config

        def get_config(arg=None):
            return toy_config(steps=int(arg or 8), batch=8)
    """))
    return path


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_", "JAX_"))}
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _launch(*args, **kwargs):
    return subprocess.run([sys.executable, str(REPO / "launch.py"), *args], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=600, **kwargs)


def _lines(workdir, split):
    return [json.loads(l) for l in (Path(workdir) / "metrics.jsonl").read_text().splitlines()
            if json.loads(l)["split"] == split]


@pytest.fixture(scope="module")
def single_run(toy_config_file, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("single")
    out = _launch(f"--config={toy_config_file}", f"--workdir={workdir}")
    assert out.returncode == 0, out.stderr[-3000:]
    return workdir


def test_unknown_config_field_is_named(toy_config_file, tmp_path):
    out = _launch(f"--config={toy_config_file}", f"--workdir={tmp_path}",
                  "--config.train.batch_sise=4")
    assert out.returncode != 0
    assert "unknown config field" in out.stderr and "batch_sise" in out.stderr


def test_bad_override_type_is_named(toy_config_file, tmp_path):
    out = _launch(f"--config={toy_config_file}", f"--workdir={tmp_path}",
                  "--config.train.batch_size=eight")
    assert out.returncode != 0
    assert "config.train.batch_size" in out.stderr


def test_sigterm_saves_and_resume_matches_uninterrupted(toy_config_file, single_run, tmp_path):
    args = [sys.executable, str(REPO / "launch.py"), f"--config={toy_config_file}",
            f"--workdir={tmp_path}"]
    proc = subprocess.Popen(args, cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in proc.stdout:  # wait until training is under way
        seen.append(line)
        if line.startswith("step 2/8"):
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stdout.read()
    assert proc.wait(timeout=300) == 0, "".join(seen) + rest
    assert "preempted: checkpoint saved at step" in rest
    assert not (tmp_path / "results.json").exists()
    saved = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert saved and saved[-1] < 8

    out = _launch(f"--config={toy_config_file}", f"--workdir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"resumed from checkpoint at step {saved[-1]}" in out.stdout
    resumed = json.loads((tmp_path / "results.json").read_text())
    straight = json.loads((single_run / "results.json").read_text())
    assert resumed["confusion"] == straight["confusion"]
    assert resumed["loss"] == pytest.approx(straight["loss"], rel=1e-5)
    for a, b in zip(_lines(single_run, "train")[-2:], _lines(tmp_path, "train")[-2:]):
        assert a["step"] == b["step"] and a["loss"] == pytest.approx(b["loss"], rel=1e-5)


def test_two_processes_on_localhost_agree_with_one(toy_config_file, single_run, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen(
        [sys.executable, str(REPO / "launch.py"), f"--config={toy_config_file}",
         f"--workdir={tmp_path}", f"--coordinator_address=127.0.0.1:{port}",
         "--num_processes=2", f"--process_id={i}"],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    assert "final evaluation at step 8" in outputs[0]
    assert "final evaluation" not in outputs[1]  # only process 0 reports and writes
    two = _lines(tmp_path, "train")
    one = _lines(single_run, "train")
    assert [l["step"] for l in two] == [l["step"] for l in one] == [2, 4, 6, 8]
    for a, b in zip(one, two):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert json.loads((tmp_path / "results.json").read_text())["confusion"] == json.loads(
        (single_run / "results.json").read_text())["confusion"]


def test_changed_config_is_refused_then_allowed_and_recorded(toy_config_file, single_run,
                                                              tmp_path):
    import shutil
    workdir = tmp_path / "run"
    shutil.copytree(single_run, workdir)
    stored = (workdir / "config.json").read_text()
    out = _launch(f"--config={toy_config_file}", f"--workdir={workdir}",
                  "--config.train.schedule.lr=0.01", "--config.train.log_every=4")
    assert out.returncode != 0
    error = out.stderr.strip().splitlines()[-1]
    assert error.startswith("error: the config differs from the one this workdir was started "
                            "with") and "1 field(s): train.schedule.lr: 0.001 -> 0.01" in error
    assert (workdir / "config.json").read_text() == stored
    out = _launch(f"--config={toy_config_file}", f"--workdir={workdir}",
                  "--config.train.schedule.lr=0.01", "--allow_config_change")
    assert out.returncode == 0, out.stderr[-3000:]
    change = json.loads((workdir / "config_changes.jsonl").read_text())
    assert change["changes"] == [{"field": "train.schedule.lr", "old": 0.001, "new": 0.01}]
    assert json.loads((workdir / "config.json").read_text())["train"]["schedule"]["lr"] == 0.01
