"""A start with a bad config value fails before any side effect (issue 22, item 2)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ferjax.runs import validate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from toy import toy_config  # noqa: E402


def test_valid_toy_config_passes():
    validate.check_config(toy_config())


@pytest.mark.parametrize("field,value,name", [
    ("batch_size", -1, "config.train.batch_size"),
    ("batch_size", 0, "config.train.batch_size"),
])
def test_bad_batch_size_names_the_field(field, value, name):
    c = toy_config()
    c.train[field] = value
    with pytest.raises(validate.ConfigError, match=name):
        validate.check_config(c)


def test_bad_eval_batch_and_budget_and_protocol():
    c = toy_config()
    c.eval.batch_size = -3
    with pytest.raises(validate.ConfigError, match="config.eval.batch_size"):
        validate.check_config(c)
    c = toy_config()
    c.train.num_steps, c.train.num_epochs = 0, 0
    with pytest.raises(validate.ConfigError, match="num_steps"):
        validate.check_config(c)
    c = toy_config()
    c.protocol = "holdut"
    with pytest.raises(validate.ConfigError, match="config.protocol"):
        validate.check_config(c)


def test_launch_refuses_negative_batch_before_the_workdir(tmp_path):
    cfg = tmp_path / "toycfg.py"
    cfg.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO / 'tests')!r})
        from toy import toy_config

        def get_config(arg=None):
            return toy_config(steps=2, batch=8)
    """))
    workdir = tmp_path / "wd"
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}
    run = subprocess.run([sys.executable, str(REPO / "launch.py"), f"--config={cfg}",
                          f"--workdir={workdir}", "--config.train.batch_size=-1"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    errors = [l for l in run.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and "config.train.batch_size" in errors[0], run.stderr
    assert not workdir.exists()  # nothing written: the corrected command starts here
    run = subprocess.run([sys.executable, str(REPO / "launch.py"), f"--config={cfg}",
                          f"--workdir={workdir}"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (workdir / "config.json").exists()


def test_bad_optimizer_and_schedule_names():
    c = toy_config()
    c.train.optimizer.name = "adma"
    with pytest.raises(validate.ConfigError, match="config.train.optimizer.name"):
        validate.check_config(c)
    c = toy_config()
    c.train.schedule.kind = "cosin"
    with pytest.raises(validate.ConfigError, match="config.train.schedule.kind"):
        validate.check_config(c)


@pytest.mark.parametrize("name", ["cross_paper", "emotional_dan", "feratt", "jalal_self_attention",
                                  "sun_attention", "sun_baseline", "sun_gap", "vgg_fer"])
def test_every_shipped_config_passes(name):
    import importlib
    validate.check_config(importlib.import_module(f"ferjax.configs.{name}").get_config())


def _launch(*args):
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(REPO / "launch.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_misspelt_config_argument_is_one_line_not_a_traceback(tmp_path):
    run = _launch("--config=configs/sun_attention.py:dta=wild", f"--workdir={tmp_path / 'wd'}")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr, run.stderr
    lines = [l for l in run.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), run.stderr
    assert "'dta'" in lines[0] and "'data'" in lines[0]  # the unknown one and the valid ones
    assert not (tmp_path / "wd").exists()
    verbose = _launch("--config=configs/sun_attention.py:dta=wild", "--verbosity=1")
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr  # kept for debugging


def _sweep(*args):
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "ferjax.sweep", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("flag,named", [("--config.train.batchsize=3", "train.batchsize"),
                                        ("--config.train.batch_size=-1", "batch_size")])
def test_sweep_dry_run_checks_launch_flags_on_every_point(tmp_path, flag, named):
    run = _sweep("--config=configs/sun_attention.py", f"--workdir={tmp_path / 'sw'}",
                 f"--launch_flag={flag}", "--dry_run")
    assert run.returncode == 1, run.stdout + run.stderr
    errors = [l for l in run.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and named in errors[0], run.stderr
    assert not (tmp_path / "sw").exists()  # refused before the manifest is written
    ok = _sweep("--config=configs/sun_attention.py", f"--workdir={tmp_path / 'sw'}",
                "--launch_flag=--config.train.batch_size=16", "--dry_run")
    assert ok.returncode == 0, ok.stderr
