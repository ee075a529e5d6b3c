"""The generated cluster scripts run as a cluster would run them: a SLURM job array under a fake
sbatch / srun / scontrol that warns one task with SIGUSR1 mid-run and requeues it, a TPU-VM
script with a failing point under a fake gcloud, and a GKE Job with nothing of this machine."""

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from ferjax.sweep import expand, scripts

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.faults
STEPS = 300  # long enough (a few seconds) for the warning to land while the loop runs


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "toysweep.py"
    path.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO / 'tests')!r})
        from toy import toy_config
        from ferjax.sweep import spec

        def get_config(arg=None):
            c = toy_config(steps={STEPS}, batch=8)
            c.train.log_every = 1
            c.train.checkpoint_every = 50
            c.data.workers = 0
            return c

        def get_sweep(arg=None):
            return spec.seeds(2)
    """))
    return path


def _env(bin_dir: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_", "JAX_", "SLURM_"))}
    env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return env


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


# sbatch: runs every array task of the script in turn with SLURM's variables; while the task
# named by FAKE_WARN_TASK trains (its workdir's metrics show WARN_AFTER steps), sends SIGUSR1
# to that task's srun'd process, as --signal=USR1@<grace> does (not to the batch shell), and
# runs again each task that asked `scontrol requeue` for itself.
FAKE_SBATCH = textwrap.dedent("""\
    #!{python}
    import json, os, re, signal, subprocess, sys, time
    from pathlib import Path
    script = Path(sys.argv[-1]); text = script.read_text()
    fake = Path(os.environ["FAKE_DIR"])
    cpus = re.search(r"^#SBATCH --cpus-per-task=(\\d+)", text, re.M).group(1)
    tasks = []
    for part in re.search(r"^#SBATCH --array=([0-9,-]+)", text, re.M).group(1).split(","):
        lo, _, hi = part.partition("-")
        tasks += range(int(lo), int(hi or lo) + 1)
    warn = int(os.environ.get("FAKE_WARN_TASK", "-1"))
    queue = list(tasks)
    restarts = {{t: 0 for t in tasks}}
    while queue:
        task = queue.pop(0)
        env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_JOB_ID="1000",
                   SLURM_JOB_ID=str(1000 + task), SLURM_CPUS_PER_TASK=cpus,
                   SLURM_RESTART_COUNT=str(restarts[task]))
        log = open(fake / f"task{{task}}.out", "a")
        proc = subprocess.Popen(["bash", str(script)], env=env, stdout=log, stderr=log)
        if task == warn:
            warn = -1
            metrics = Path(os.environ["FAKE_WARN_METRICS"])
            pid_file = fake / f"srun{{task}}.pid"
            while proc.poll() is None:
                lines = metrics.read_text().splitlines() if metrics.exists() else []
                if len([l for l in lines if '"train"' in l]) >= int(os.environ["WARN_AFTER"]):
                    os.kill(int(pid_file.read_text()), signal.SIGUSR1)
                    (fake / "warned").write_text(str(len(lines)))
                    break
                time.sleep(0.02)
        proc.wait()
        requeued = fake / "requeue"
        asked = requeued.read_text().split() if requeued.exists() else []
        if f"1000_{{task}}" in asked:
            requeued.write_text(" ".join(a for a in asked if a != f"1000_{{task}}"))
            with open(fake / "requeued", "a") as f:
                f.write(f"{{task}}\\n")
            restarts[task] += 1
            queue.insert(0, task)
        elif proc.returncode:
            sys.exit(f"task {{task}} failed ({{proc.returncode}})")
    """)
# srun: one task on this node, with the step's variables jax's SLURM detection reads.
FAKE_SRUN = textwrap.dedent("""\
    #!/bin/bash
    echo $$ > "$FAKE_DIR/srun$SLURM_ARRAY_TASK_ID.pid"
    export SLURM_STEP_NODELIST=localhost SLURM_NTASKS=1 SLURM_PROCID=0 SLURM_LOCALID=0
    export SLURM_NODEID=0 SLURM_STEP_NUM_NODES=1 SLURM_STEP_ID=0
    while [ "${1#-}" != "$1" ]; do shift; done  # srun's own options
    exec "$@"
    """)
FAKE_SCONTROL = textwrap.dedent("""\
    #!/bin/bash
    [ "$1" = requeue ] || exit 2
    echo "$2" >> "$FAKE_DIR/requeue"
    """)


def _fake_slurm(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "sbatch", FAKE_SBATCH.format(python=sys.executable))
    _executable(bin_dir / "srun", FAKE_SRUN)
    _executable(bin_dir / "scontrol", FAKE_SCONTROL)
    return bin_dir


def _write_script(config: Path, sweep_dir: Path, executor: str, *flags) -> Path:
    run = subprocess.run([sys.executable, "-m", "ferjax.sweep", f"--config={config}",
                          f"--workdir={sweep_dir}", f"--executor={executor}", *flags],
                         cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return sweep_dir / {"slurm": "slurm.sh", "tpu": "tpu_vm.sh", "gke": "gke_job.yaml"}[executor]


def _results(sweep_dir: Path, config: Path) -> dict:
    """Per point: every step's train loss, and the final confusion matrix, loss and accuracy."""
    out = {}
    for p in expand.expand(str(config), sweep_dir):
        result = json.loads((p.workdir / "results.json").read_text())
        lines = map(json.loads, (p.workdir / "metrics.jsonl").read_text().splitlines())
        out[p.name] = ({l["step"]: l["loss"] for l in lines if l["split"] == "train"},
                       result["confusion"], result["loss"], result["accuracy"])
    return out


def test_slurm_array_warned_with_usr1_requeues_itself_and_ends_bit_identical(tmp_path):
    config = _config_file(tmp_path)
    reference = tmp_path / "reference"
    local = subprocess.run([sys.executable, "-m", "ferjax.sweep", f"--config={config}",
                            f"--workdir={reference}"], cwd=REPO, env=_env(),
                           capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]

    sweep_dir = tmp_path / "slurm"
    script = _write_script(config, sweep_dir, "slurm", "--cpus_per_task=2", "--grace_s=60")
    text = script.read_text()
    assert "#SBATCH --signal=USR1@60\n#SBATCH --requeue\n" in text
    assert "#SBATCH --cpus-per-task=2\n#SBATCH --mem=8G\n" in text
    assert "\nsrun --cpus-per-task=2 " in text  # srun does not inherit it (SLURM >= 22.05)
    fake = tmp_path / "fake"
    fake.mkdir()
    points = expand.expand(str(config), sweep_dir)
    env = _env(_fake_slurm(tmp_path))
    env.update(FAKE_DIR=str(fake), FAKE_WARN_TASK="1", WARN_AFTER="20",
               FAKE_WARN_METRICS=str(points[1].workdir / "metrics.jsonl"))
    start = time.time()
    run = subprocess.run(["sbatch", str(script)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=600)
    elapsed = time.time() - start
    logs = "".join(p.read_text() for p in sorted(fake.glob("task*.out")))
    assert run.returncode == 0, run.stderr + logs[-4000:]
    assert (fake / "warned").exists(), "the warning never landed: " + logs[-3000:]
    assert (fake / "requeued").read_text().split() == ["1"], logs[-3000:]  # task 1 only, once
    launch_log = (points[1].workdir / "launch.log").read_text()
    saved = re.search(r"preempted: checkpoint saved at step (\d+)", launch_log)
    assert saved and 20 <= int(saved.group(1)) < STEPS, launch_log[-3000:]
    assert f"resumed from checkpoint at step {saved.group(1)}" in launch_log
    assert "point 1 preempted: requeueing 1000_1" in logs
    # Every point finished with what an uninterrupted sweep gives, bit for bit.
    assert _results(sweep_dir, config) == _results(reference, config)
    print(f"fake SLURM sweep with one USR1 requeue: {elapsed:.1f} s")


def test_tpu_vm_script_runs_every_point_and_lists_the_failed_one(tmp_path):
    config = _config_file(tmp_path)
    script = _write_script(config, tmp_path / "tpu", "tpu", "--tpu_name=v4-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # gcloud ... --command="cd repo && python -m ferjax.sweep ... --point=I": records I, fails
    # point 0, and stands in for the point's run otherwise.
    _executable(bin_dir / "gcloud", textwrap.dedent(f"""\
        #!/bin/bash
        for a in "$@"; do case "$a" in --command=*) cmd="${{a#--command=}}";; esac; done
        point="${{cmd##*--point=}}"
        echo "$point" >> {shlex.quote(str(tmp_path / 'ran'))}
        [ "$point" != 0 ]
        """))
    run = subprocess.run(["bash", str(script)], env=_env(bin_dir), capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1
    assert (tmp_path / "ran").read_text().split() == ["0", "1"]  # the failure stopped nothing
    assert "failed points: 0 " in run.stderr


def test_gke_job_mounts_the_sweep_volume_and_names_nothing_of_this_machine(tmp_path):
    sweep_dir = tmp_path / "sun-sweep"
    job_file = _write_script("configs/sun_attention.py:runlocal", sweep_dir, "gke",
                             "--image=registry.example/ferjax:cpu", "--gke_claim=sweeps-pvc")
    text = job_file.read_text()
    assert str(tmp_path) not in text and str(REPO) not in text
    job = yaml.safe_load(text)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "registry.example/ferjax:cpu"
    assert container["workingDir"] == scripts.IMAGE_REPO
    assert container["volumeMounts"] == [{"name": "sweeps", "mountPath": scripts.SWEEP_MOUNT}]
    assert pod["volumes"] == [{"name": "sweeps",
                               "persistentVolumeClaim": {"claimName": "sweeps-pvc"}}]
    command = container["args"][0]
    assert "--config=ferjax.configs.sun_attention:runlocal" in command
    assert f"--workdir={scripts.SWEEP_MOUNT}/sun-sweep" in command and "exec python" in command
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert {"action": "Ignore", "onExitCodes": {"containerName": "point", "operator": "In",
                                                "values": [scripts.PREEMPTED_EXIT]}} in rules
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"WORKDIR {scripts.IMAGE_REPO}\n" in dockerfile  # the image the Job names
    assert "ARG EXTRAS=" in dockerfile and "EXTRAS=detect,cuda" in dockerfile


def test_a_point_passes_the_warning_on_and_exits_preempted(tmp_path):
    """`--point=I` under SIGUSR1: the trainer checkpoints, the point is interrupted, exit 75."""
    config = _config_file(tmp_path)
    sweep_dir = tmp_path / "sw"
    point = expand.expand(str(config), sweep_dir)[0]
    proc = subprocess.Popen([sys.executable, "-m", "ferjax.sweep", f"--config={config}",
                             f"--workdir={sweep_dir}", "--point=0"], cwd=REPO, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    metrics = point.workdir / "metrics.jsonl"
    deadline = time.time() + 300
    while not (metrics.exists() and metrics.read_text().count('"train"') >= 10):
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read()
        time.sleep(0.02)
    proc.send_signal(signal.SIGUSR1)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == scripts.PREEMPTED_EXIT, out
    assert "interrupted" in out
    assert "preempted: checkpoint saved at step" in (point.workdir / "launch.log").read_text()
