"""Sweep declaration, expansion, checks, manifest states, device splits, scripts and tables."""

import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from ferjax.collect import layouts, papers, runs, table
from ferjax.collect.__main__ import collect
from ferjax.sweep import expand, local, manifest, scripts, spec

REPO = Path(__file__).resolve().parents[1]
SUN = "configs/sun_attention.py:runlocal"


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    monkeypatch.chdir(REPO)  # config paths are relative to the repository, as on the CLI


def test_product_zip_and_seeds():
    points = spec.product(spec.axis(":variant", ["free", "symmetric"]), spec.seeds(2, start=5))
    assert points == [{":variant": "free", "seed": 5}, {":variant": "free", "seed": 6},
                      {":variant": "symmetric", "seed": 5}, {":variant": "symmetric", "seed": 6}]
    zipped = spec.zipped(spec.axis("train.num_steps", [10, 20]), spec.axis(":batch", [8, 16]))
    assert zipped == [{"train.num_steps": 10, ":batch": 8}, {"train.num_steps": 20, ":batch": 16}]
    with pytest.raises(ValueError, match="different lengths"):
        spec.zipped(spec.axis("a", [1, 2]), spec.axis("b", [1]))
    with pytest.raises(ValueError, match=r"\['seed'\] set by two"):
        spec.product(spec.seeds(1), spec.seeds(2))


def test_expand_names_points_by_their_overrides(tmp_path):
    points = expand.expand(SUN, tmp_path)
    assert [p.name for p in points] == ["variant=free,seed=0", "variant=free,seed=1",
                                        "variant=symmetric,seed=0", "variant=symmetric,seed=1"]
    p = points[3]
    assert p.workdir == tmp_path / "variant=symmetric,seed=1"
    assert p.config == "configs/sun_attention.py:runlocal,variant=symmetric"
    command = expand.launch_command(p, ("--verbosity=0",))
    assert command[1:] == ["-m", "ferjax.launch", "--config=configs/sun_attention.py:runlocal,"
                           "variant=symmetric", "--config.seed=1",
                           f"--workdir={tmp_path / 'variant=symmetric,seed=1'}", "--verbosity=0"]
    assert len({p.data_key for p in points}) == 1  # one dataset: built by the first point


def test_config_axis_and_value_formatting(tmp_path):
    points = expand.expand("configs/sun_attention.py:runlocal,variant=free", tmp_path, [
        {"config": "configs/sun_baseline.py:classes=7", ":bn": False, "train.schedule.lr": 1e-4,
         "data.crop_size": (144, 112)}])
    (p,) = points
    assert p.name == "config=sun_baseline_classes=7,bn=false,train.schedule.lr=0.0001,data.crop_size=144x112"
    assert p.config == "configs/sun_baseline.py:runlocal,variant=free,classes=7,bn=false"
    assert expand.launch_command(p)[4:6] == ["--config.train.schedule.lr=0.0001",
                                             "--config.data.crop_size=(144, 112)"]


@pytest.mark.parametrize("point, named", [
    ({"train.num_stepz": 3}, "'train.num_stepz' is not a field"),
    ({"nope.seed": 3}, "'nope.seed' is not a field"),
    ({"train.num_steps": "many"}, "'train.num_steps' cannot take 'many'"),
    ({":variantt": "free"}, "unknown config argument 'variantt'"),
    ({":variant": "circular"}, "variant='circular'"),
])
def test_bad_sweep_field_is_named_before_anything_runs(tmp_path, point, named):
    with pytest.raises(expand.SweepError, match=None) as e:
        expand.expand(SUN, tmp_path / "sweep", [{"seed": 0}, point])
    assert named in str(e.value) and "sweep point 1" in str(e.value)
    assert not (tmp_path / "sweep").exists()


def test_cli_names_unknown_field_and_writes_nothing(tmp_path):
    cfg = tmp_path / "badsweep.py"
    cfg.write_text(textwrap.dedent("""
        from ferjax.configs import sun
        from ferjax.sweep import spec

        def get_config(arg=None):
            return sun.get_config("sun_attention", arg)

        def get_sweep(arg=None):
            return spec.product(spec.axis("train.batch_sise", [8, 16]), spec.seeds(2))
    """))
    out = subprocess.run([sys.executable, "-m", "ferjax.sweep", f"--config={cfg}:runlocal",
                          f"--workdir={tmp_path / 'sweep'}"], cwd=REPO, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert out.returncode != 0
    assert "'train.batch_sise' is not a field" in out.stderr
    assert not (tmp_path / "sweep").exists()


def test_merge_arg_replaces_and_appends():
    assert expand.merge_arg("a=1,flag", {"a": 2, "b": True}) == "a=2,flag,b=true"
    assert expand.merge_arg("", {}) == ""


def _fake_result(workdir: Path, accuracy: float, f1: float):
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "results.json").write_text(json.dumps({"accuracy": accuracy, "macro_f1": f1}))


def test_point_states(tmp_path):
    w = tmp_path / "p"
    assert manifest.point_state(w)["status"] == "pending"
    (w / "checkpoints" / "3").mkdir(parents=True)
    assert manifest.point_state(w)["status"] == "interrupted"
    manifest.write_status(w, "running", pid=2 ** 22 + 12345)  # no such process
    assert manifest.point_state(w)["status"] == "interrupted"
    manifest.write_status(w, "running", pid=os.getpid())
    assert manifest.point_state(w)["status"] == "running"
    manifest.write_status(w, "failed", error="ValueError: boom")
    assert manifest.point_state(w) | {"time": 0, "host": 0} == {
        "status": "failed", "error": "ValueError: boom", "time": 0, "host": 0}
    _fake_result(w, 0.5, 0.4)
    assert manifest.point_state(w)["status"] == "finished"
    (w / "results.json").unlink()
    (w / "crossval.json").write_text(json.dumps({"accuracy_mean": 0.7, "accuracy_std": 0.1,
                                                 "num_folds": 5}))
    assert manifest.read_result(w) == {"accuracy": 0.7, "accuracy_std": 0.1, "num_folds": 5}
    with pytest.raises(ValueError, match="unknown point status"):
        manifest.write_status(w, "done")


def test_device_splits():
    gpu = local.split_devices("gpu", ["0", "1", "2", "3", "4"], 2)
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in gpu] == ["0,1,2", "3,4"]
    tpu = local.split_devices("tpu", ["0", "1", "2", "3"], 4)
    assert [s.env["TPU_VISIBLE_CHIPS"] for s in tpu] == ["0", "1", "2", "3"]
    assert len({s.env["TPU_PROCESS_PORT"] for s in tpu}) == 4
    assert all(s.env["TPU_CHIPS_PER_PROCESS_BOUNDS"] == "1,1,1" for s in tpu)
    cpu = local.split_devices("cpu", ["0", "1"], 2)
    assert [s.cores for s in cpu] == [(0,), (1,)]
    assert "xla_force_host_platform_device_count=1" in cpu[0].env["XLA_FLAGS"]
    assert local.split_devices("gpu", ["0"], 1)[0].env == {}
    with pytest.raises(ValueError, match="needs at least 3 gpu devices; found 2"):
        local.split_devices("gpu", ["0", "1"], 3)
    with pytest.raises(ValueError, match="one per process"):
        local.split_devices("tpu", ["0", "1", "2", "3"], 2)


def test_scripts_list_only_unfinished_points(tmp_path):
    points = expand.expand(SUN, tmp_path)
    _fake_result(points[1].workdir, 0.5, 0.5)
    state = manifest.write_manifest(tmp_path, SUN, points)
    todo = tuple(p.index for p, e in zip(points, state["points"]) if e["status"] != "finished")
    assert todo == (0, 2, 3)
    job = scripts.Job(SUN, str(tmp_path), "/src/ferjax", todo,
                      launch_flags=("--config.evals.attention.max_examples=16",))
    sbatch = scripts.slurm(job, nodes=2, gpus_per_node=4, max_parallel=2,
                           options=("--partition=gpu",))
    assert "#SBATCH --array=0,2-3%2\n" in sbatch and "#SBATCH --nodes=2\n" in sbatch
    assert "#SBATCH --gpus-per-node=4\n" in sbatch and "#SBATCH --partition=gpu\n" in sbatch
    assert (f"srun --cpus-per-task=8 python -m ferjax.sweep --config={SUN} --workdir={tmp_path} "
            "--point=$SLURM_ARRAY_TASK_ID --launch_flag=--config.evals.attention.max_examples=16") in sbatch
    tpu = scripts.tpu_vm(job, name="v4-32", zone="us-central2-b")
    assert "for I in 0 2 3; do" in tpu and "--worker=all" in tpu and "--point=$I" in tpu
    k8s = yaml.safe_load(scripts.gke(job, image="img", parallelism=2, tpu_type="tpu-v5",
                                     tpu_topology="2x2", chips=4))
    pod = k8s["spec"]["template"]["spec"]
    assert k8s["spec"]["completions"] == 3 and k8s["spec"]["completionMode"] == "Indexed"
    assert pod["containers"][0]["resources"]["limits"]["google.com/tpu"] == 4
    assert "POINTS=(0 2 3); I=${POINTS[$JOB_COMPLETION_INDEX]}" in pod["containers"][0]["args"][0]
    with pytest.raises(ValueError, match="nothing to submit"):
        scripts.slurm(scripts.Job(SUN, str(tmp_path), "/src", ()))


def _fake_sweep(tmp_path, results):
    """A manifest over SUN's 4 points with the given {name: (acc, f1) | 'failed'}."""
    points = expand.expand(SUN, tmp_path)
    for p in points:
        value = results.get(p.name)
        if value == "failed":
            manifest.write_status(p.workdir, "failed", error="ValueError: bad")
        elif value is not None:
            _fake_result(p.workdir, *value)
            cfg = {"model": {"name": "sun_attention",
                             "symmetric": p.overrides[":variant"] == "symmetric"},
                   "data": {"name": "fersynth", "config": "front"}}
            (p.workdir / "config.json").write_text(json.dumps(cfg))
    manifest.write_manifest(tmp_path, SUN, points)
    return points


def test_collect_groups_seeds_and_shows_failures(tmp_path):
    _fake_sweep(tmp_path, {"variant=free,seed=0": (0.50, 0.40),
                           "variant=free,seed=1": (0.70, 0.60),
                           "variant=symmetric,seed=0": (0.25, 0.20),
                           "variant=symmetric,seed=1": "failed"})
    header, rows = table.summary_rows(runs.load(tmp_path))
    assert header == ["variant", "accuracy", "macro_f1", "seeds", "not finished"]
    # sample std of (50, 70) = 14.142...
    assert rows[0] == ["free", "60.0 ± 14.1", "50.0 ± 14.1", "2/2", ""]
    assert rows[1] == ["symmetric", "25.0", "20.0", "1/2", "seed=1: failed (ValueError: bad)"]
    text = collect(tmp_path, "sun")
    assert "| free | 60.0 ± 14.1 |" in text
    assert ("| RAFD-FRONT: The CNN with Visual Attention (use Eq. (5)) | variant=symmetric "
            "(FERSynth front) | 25.0 | 1/2 | 94.8 ± 0.8 |") in text
    csv_lines = (tmp_path / "table.csv").read_text().splitlines()
    assert csv_lines[0].startswith("variant,accuracy_mean,accuracy_std,macro_f1_mean")
    free = csv_lines[1].split(",")
    assert float(free[1]) == pytest.approx(0.6) and float(free[2]) == pytest.approx(
        np.std([0.5, 0.7], ddof=1), rel=1e-5)
    assert (tmp_path / "table.md").read_text() in text
    assert (tmp_path / "table_sun.md").is_file()


def test_mean_std_and_formats():
    assert math.isnan(table.mean_std(np.array([]))[0])
    assert table.format_stat("accuracy", np.array([0.5])) == "50.0"
    assert table.format_stat("loss", np.array([1.0, 2.0])) == "1.5000 ± 0.7071"
    assert papers.format_paper((95.2, 2.0)) == "95.2 ± 2.0"
    assert papers.format_paper((77.90, 2.59), digits=2) == "77.90 ± 2.59"


def test_feratt_layout_picks_the_table_of_the_setting():
    cfg = lambda name, space, render: {"data": {"name": name, "label_space": space,  # noqa
                                                "composite": {"enabled": render}}}
    assert layouts._feratt_table(cfg("fersynth", "seven", True)).startswith("Table 1.")
    assert layouts._feratt_table(cfg("bu3dfe", "seven", False)).startswith("Table 2.")
    assert layouts._feratt_table(cfg("fersynth", "canonical8", True)).startswith("Table 3.")
    assert layouts._feratt_table(cfg("ckplus", "canonical8", False)).startswith("Table 4.")


def _run(name, labels, config, metrics, status="finished"):
    return runs.Run(name, labels, status, "", "", config, metrics)


def test_paper_layouts_put_groups_in_their_rows():
    feratt_cfg = {"model": {"name": "feratt", "variant": "feratt_rep_cls"},
                  "data": {"name": "fersynth", "config": "wild", "label_space": "seven",
                           "composite": {"enabled": False}}}
    jalal_cfg = {"model": {"name": "jalal_self_attention", "use_attention": False},
                 "data": {"name": "fersynth", "config": "wild", "label_space": "seven"}}
    dan_cfg = {"model": {"name": "emotional_dan"},
               "data": {"name": "fersynth", "config": "wild", "label_space": "seven"}}
    loaded = [
        _run("a", {"method": "feratt", "seed": "0"}, feratt_cfg,
             {"accuracy": 0.5, "macro_precision": 0.4, "macro_recall": 0.3, "macro_f1": 0.2}),
        _run("b", {"method": "jalal", "seed": "0"}, jalal_cfg, {"accuracy": 0.25}),
        _run("c", {"method": "dan", "seed": "0"}, dan_cfg,
             {"accuracy": 0.6, "cross/FERSynth front": 0.7,
              "table5/conv4a/happiness": 0.5}),
    ]
    groups = table.group(loaded)[1]
    feratt_md = layouts.render("feratt", groups)
    # 7 classes, not rendered: the paper's Real BU-3DFE table
    real_bu = feratt_md.split("Table 2. Real BU-3DFE")[1].split("**FERAtt Table 3")[0]
    assert ("| FERAtt+Rep+Cls | method=feratt (FERSynth wild) | 50.0 | 40.0 | 30.0 | 20.0 | 1/1 "
            "| 82.11 ± 4.39 | 83.72 ± 3.09 | 82.42 ± 4.08 | 83.06 ± 3.59 |") in real_bu
    jalal_md = layouts.render("jalal", groups)
    assert ("| Without self-attention (ablation) (not in the paper) | method=jalal (FERSynth "
            "wild) | 25.0 | 1/1 | — |") in jalal_md
    assert "| Proposed Network | — | — | — | 93.8 |" in jalal_md
    dan_md = layouts.render("emotional_dan", groups)
    assert "| EmotionalDAN | method=dan (FERSynth wild) | — | — | — | 0.7000 | 60.0 | 1/1 |" in dan_md
    assert "| conv4a | method=dan (FERSynth wild) | 0.5000 |" in dan_md
    assert "| conv4a (paper) | — | 0.375 | 0.455 |" in dan_md
    with pytest.raises(ValueError, match="--paper='x'"):
        layouts.render("x", groups)


def test_slots_go_to_the_first_declared_waiting_point():
    import threading
    slots = local._Slots([local.Slot("a", {})])
    stop = threading.Event()
    held = slots.take(5, stop)
    order = []

    def wait(index):
        slot = slots.take(index, stop)
        order.append(index)
        slots.give(slot)

    threads = [threading.Thread(target=wait, args=(i,)) for i in (9, 7, 8)]
    for t in threads:
        t.start()
    while len(slots._waiting) < 3:  # all three are queued behind the held slot
        time.sleep(0.01)
    slots.give(held)
    for t in threads:
        t.join(10)
    assert order == [7, 8, 9]
    stop.set()
    assert slots.take(1, threading.Event()) is not None
    assert slots.take(2, stop) is None  # the only slot is taken and the sweep is stopping
