"""Multi-process runs to their last file: every experiment config's `runlocal` in 2 processes
on 127.0.0.1 through launch.py, evaluators included, and a k-fold and a model-selecting run.

Each must exit 0 in both processes and leave what 1 process on 2 devices leaves — the same
JSON files (results.json, every evaluator's file, summaries) equal to the documented
cross-process tolerance, and the same figures. A 2-process run's training equals 1 process on
2 devices step for step (the results depend on the number of devices, not of processes).
"""

import json
import subprocess
import sys
import textwrap

import processes
import pytest
from test_configs_run import experiment_configs

TESTS = processes.REPO / "tests"

# Written into the test's folder: a config file launch.py runs in every process.
EXPERIMENT = """
import importlib, sys
sys.path.insert(0, {tests!r})
from synth_records import use_memory_records

def get_config(arg=None):
    config = importlib.import_module("ferjax.configs.{name}").get_config("runlocal")
    use_memory_records(config)
    return config
"""

TOY = """
import sys
sys.path.insert(0, {tests!r})
from toy import toy_config

def get_config(arg=None):
    config = toy_config(steps=4, batch=8)
{body}
    return config
"""
KFOLD = """    config.protocol = "kfold"
    config.data.num_folds = 2
    config.data.cv_split = "train"
    config.evals.figures = {"type": "figures"}"""
SELECTING = """    config.data.validation_fraction = 0.3
    config.train.eval_every = 2
    config.train.select = {"metric": "accuracy", "mode": "max", "patience": 0}
    config.evals.figures = {"type": "figures"}"""


def _two_ways(config_file, tmp_path):
    """The 2-process run and the 1-process, 2-device reference; both must end with exit 0."""
    two, one = tmp_path / "two_processes", tmp_path / "one_process"
    run = processes.finished(config_file, two, processes=2)
    assert "Traceback" not in run.output(0) + run.output(1), run.outputs()
    processes.finished(config_file, one, devices=2)
    return two, one


@pytest.mark.parametrize("name", experiment_configs())
def test_runlocal_in_two_processes_ends_like_one(name, tmp_path):
    config_file = tmp_path / f"{name}_memory.py"
    config_file.write_text(EXPERIMENT.format(tests=str(TESTS), name=name))
    two, one = _two_ways(config_file, tmp_path)
    found = processes.result_files(two)
    assert any(p.endswith("results.json") for p in found["json"]), found
    processes.assert_same_outputs(two, one)


@pytest.mark.parametrize("kind,body", [("kfold", KFOLD), ("selecting", SELECTING)])
def test_kfold_and_selecting_runs_in_two_processes_end_like_one(kind, body, tmp_path):
    config_file = tmp_path / f"toy_{kind}.py"
    config_file.write_text(TOY.format(tests=str(TESTS), body=body))
    two, one = _two_ways(config_file, tmp_path)
    if kind == "kfold":
        assert {"crossval.json", "fold0/results.json", "fold1/results.json"} <= \
            processes.result_files(two)["json"]
        assert "figures/confusion_crossval.png" in processes.result_files(two)["png"]
    else:
        saved = json.loads((two / "results.json").read_text())
        assert saved["selection"]["best_step"] in (2, 4)
        assert (two / "checkpoints_best").is_dir()
    processes.assert_same_outputs(two, one)


def test_evaluate_reads_a_two_process_run(tmp_path):
    """python -m ferjax.evaluate on the workdir a 2-process job wrote (its checkpoints were
    saved by both processes) gives what it gives on the 1-process run."""
    config_file = tmp_path / "live.py"
    config_file.write_text(TOY.format(tests=str(TESTS), body=textwrap.indent(textwrap.dedent("""
        from ferjax.configs import pieces
        config.data = pieces.fersynth_data("front", image_size=(40, 32), num_subjects=10,
                                           variants_per_class=1)
        config.data.source = "fersynth_live"
        config.data.crop_size = (32, 32)
        config.data.stats_examples = 16"""), "    ")))
    two, one = _two_ways(config_file, tmp_path)
    reports = []
    for workdir in (two, one):
        done = subprocess.run(
            [sys.executable, "-m", "ferjax.evaluate", f"--workdir={workdir}", "--data=fersynth",
             "--data_config=pose", f"--out={workdir / 'pose.json'}"], cwd=processes.REPO,
            env=processes.env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        reports.append(json.loads((workdir / "pose.json").read_text()))
    assert reports[0]["num_examples"] > 0
    assert [r.pop("workdir") for r in reports] == [str(two), str(one)]
    processes.assert_close(reports[0], reports[1], "pose.json")


def test_an_evaluator_failing_on_process_0_stops_both_processes_with_its_error(tmp_path):
    """Process 1 waits for process 0's evaluators; when they fail it stops too, with one line
    naming process 0's error, instead of waiting or reporting success."""
    config_file = tmp_path / "bad_evaluator.py"
    config_file.write_text(TOY.format(tests=str(TESTS), body='    config.evals.figures = '
                                      '{"type": "figures", "not_an_option": 1}'))
    run = processes.Run(config_file, tmp_path / "run", processes=2)
    codes = run.finish(timeout=300)
    assert codes[0] != 0 and codes[1] == 1, run.outputs()
    assert "unexpected keyword argument 'not_an_option'" in run.output(0)
    errors = [l for l in run.output(1).splitlines() if l.startswith("error:")]
    assert len(errors) == 1, run.outputs()
    assert errors[0].startswith("error: process 0 failed: TypeError: ") and \
        "not_an_option" in errors[0] and "(in evaluators in " in errors[0], errors
    assert (tmp_path / "run" / "results.json").is_file()  # what ran before the failure stays
