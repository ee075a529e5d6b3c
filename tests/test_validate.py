"""A start with a bad config value fails before any side effect (issue 22, item 2)."""

import importlib
import json
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


def test_bad_conv_grad_positions_is_refused_before_the_workdir(tmp_path):
    c = importlib.import_module("ferjax.configs.vgg_fer").get_config()
    c.model.conv_grad_positions = -3
    with pytest.raises(validate.ConfigError, match="config.model.conv_grad_positions=-3"):
        validate.check_config(c)
    run = _launch("--config=configs/sun_attention.py:runlocal", f"--workdir={tmp_path / 'wd'}",
                  "--config.model.conv_grad_positions=-2")
    assert run.returncode == 1
    errors = [l for l in run.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and "config.model.conv_grad_positions=-2" in errors[0], run.stderr
    assert not (tmp_path / "wd").exists()


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


@pytest.mark.parametrize("field,value,named", [
    ("train.compute_dtype", "float16", "config.train.compute_dtype"),
    ("data.placement", "gpu", "config.data.placement"),
    ("data.source", "tfsd", "config.data.source"),
    ("eval.tta", "flips", "config.eval.tta"),
    ("train.select.mode", "maximum", "config.train.select.mode"),
    ("model.name", "sun_atention", "config.model.name"),
])
def test_bad_enum_values_name_the_field(field, value, named):
    c = toy_config()
    section, key = field.rsplit(".", 1)
    target = c
    for part in section.split("."):
        target = target[part]
    target[key] = value
    with pytest.raises(validate.ConfigError, match=named.replace(".", r"\.")):
        validate.check_config(c)


def test_unknown_loss_term_and_selection_metric_are_named():
    c = toy_config()
    c.losses.emotion_cee = {"weight": 1.0}
    with pytest.raises(validate.ConfigError, match=r"config\.losses\.emotion_cee"):
        validate.check_config(c)
    c = toy_config()
    c.data.validation_split = "validation"
    c.train.select.metric = "acc"
    with pytest.raises(validate.ConfigError, match=r"config\.train\.select\.metric='acc'"):
        validate.check_config(c)


def test_ten_crop_on_images_the_size_of_the_crop_is_refused_before_the_build():
    from ferjax.configs import vgg_fer
    c = vgg_fer.get_config("data=fer2013")  # stored 48×48, crop 48×48
    c.eval.tta = "ten_crop"
    with pytest.raises(validate.ConfigError, match=r"ten_crop.*48x48"):
        validate.check_config(c)
    assert validate.stored_image_size(c.data) == (48, 48)


def _fer2013_config(tmp_path, manual_dir):
    from ferjax.configs import vgg_fer
    c = vgg_fer.get_config("data=fer2013")
    c.data.data_dir = str(tmp_path / "tfds")
    c.data.manual_dir = str(manual_dir)
    return c


def test_manual_dir_missing_unset_or_without_the_layouts_files(tmp_path):
    with pytest.raises(validate.ConfigError, match=r"config\.data\.manual_dir='.*nowhere' is not a "
                                                   r"folder.*fer2013\.csv"):
        validate.check_manual_data(_fer2013_config(tmp_path, tmp_path / "nowhere").data)
    with pytest.raises(validate.ConfigError, match=r"config\.data\.manual_dir is not set"):
        validate.check_manual_data(_fer2013_config(tmp_path, "").data)
    (tmp_path / "empty").mkdir()
    with pytest.raises(validate.ConfigError, match=r"not a fer2013 folder: missing .*fer2013\.csv"):
        validate.check_manual_data(_fer2013_config(tmp_path, tmp_path / "empty").data)
    import real_trees
    validate.check_manual_data(_fer2013_config(tmp_path, real_trees.fer2013_tree(
        tmp_path / "good")).data)
    assert not (tmp_path / "tfds").exists()  # checking wrote nothing


def test_launch_with_a_wrong_manual_dir_is_one_paragraph_and_writes_nothing(tmp_path):
    workdir = tmp_path / "wd"
    run = _launch("--config=configs/vgg_fer.py:data=fer2013", f"--workdir={workdir}",
                  f"--config.data.data_dir={tmp_path / 'tfds'}",
                  f"--config.data.manual_dir={tmp_path / 'nowhere'}")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and "AssertionError" not in run.stderr, run.stderr
    lines = [l for l in run.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: config.data.manual_dir="), run.stderr
    assert not workdir.exists() and not (tmp_path / "tfds").exists()
    verbose = _launch("--config=configs/vgg_fer.py:data=fer2013", f"--workdir={workdir}",
                      f"--config.data.data_dir={tmp_path / 'tfds'}",
                      f"--config.data.manual_dir={tmp_path / 'nowhere'}", "--verbosity=1")
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr  # kept for debugging
    assert "\nerror: config.data.manual_dir=" in verbose.stderr


def _toy_launch_config(tmp_path):
    cfg = tmp_path / "toycfg.py"
    cfg.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO / 'tests')!r})
        from toy import toy_config

        def get_config(arg=None):
            c = toy_config(steps=2, batch=8)
            c.data.workers = 0
            c.data.data_dir = ""
            return c
    """))
    return cfg


def test_path_only_fields_are_recorded_not_refused(tmp_path):
    cfg, workdir = _toy_launch_config(tmp_path), tmp_path / "wd"
    first = _launch(f"--config={cfg}", f"--workdir={workdir}")
    assert first.returncode == 0, first.stderr[-2000:]
    moved = _launch(f"--config={cfg}", f"--workdir={workdir}", "--config.data.workers=1",
                    f"--config.data.data_dir={tmp_path / 'elsewhere'}")
    assert moved.returncode == 0, moved.stderr[-2000:]
    changes = [json.loads(l) for l in (workdir / "config_changes.jsonl").read_text().splitlines()]
    assert {c["field"] for c in changes[-1]["changes"]} == {"data.workers", "data.data_dir"}
    refused = _launch(f"--config={cfg}", f"--workdir={workdir}", "--config.train.batch_size=4")
    assert refused.returncode == 1 and "train.batch_size" in refused.stderr


def test_a_manual_dir_moved_with_the_same_files_is_accepted_other_files_refused(tmp_path):
    import shutil

    import real_trees

    from ferjax.train import run_config
    a = real_trees.fer2013_tree(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    workdir = tmp_path / "wd"
    config = {"data": {"manual_dir": str(a)}, "seed": 0}
    run_config.check_workdir(workdir, config, write=True)
    assert (workdir / "manual_source.json").exists()
    moved = {"data": {"manual_dir": str(b)}, "seed": 0}
    assert run_config.check_workdir(workdir, moved, write=True) == [
        ("data.manual_dir", str(a), str(b))]
    assert "data.manual_dir" in (workdir / "config_changes.jsonl").read_text()
    c = tmp_path / "c"
    real_trees.fer2013_tree(c, duplicate=False)  # one row's pixels differ
    with pytest.raises(run_config.ConfigChangedError, match=r"data\.manual_dir: .*c holds other "
                                                            r"files"):
        run_config.check_workdir(workdir, {"data": {"manual_dir": str(c)}, "seed": 0})


def test_a_resume_keeps_the_input_workers_its_checkpoints_were_saved_with(tmp_path, capsys):
    import ml_collections

    from ferjax.train import feed
    config = ml_collections.ConfigDict({"data": {"workers": 0}})
    assert feed.input_workers(config, tmp_path) == 0  # fresh start: as configured
    (tmp_path / "checkpoints" / "12").mkdir(parents=True)
    config.data.workers = 3
    assert feed.input_workers(config, tmp_path) == 0  # resume: the saved count
    assert "resuming with the 0 input worker(s)" in capsys.readouterr().out
    (tmp_path / "checkpoints" / "12").rmdir()
    assert feed.input_workers(config, tmp_path) == 3  # no checkpoint: a fresh start again
