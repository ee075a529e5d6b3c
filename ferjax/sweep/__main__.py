"""python -m ferjax.sweep --config=configs/x.py[:arg] [--workdir=runs/x-sweep] [--executor=...]

Expands the config file's get_sweep(arg), checks every point against the config (an unknown
field is named before anything runs), writes <workdir>/sweep.json and then:
  --executor=local  runs the unfinished points here, --parallel=N at a time on split devices
                    (--dry_run prints their commands instead);
  --executor=slurm  writes <workdir>/slurm.sh, a job array of the unfinished points
                    (--nodes, --gpus_per_node, --cpus_per_task, --mem, --time, --grace_s,
                    --slurm_option; --dry_run prints it); its tasks requeue themselves when
                    preempted or warned of the time limit (SIGUSR1) and resume;
  --executor=tpu    writes <workdir>/tpu_vm.sh (gcloud ... tpu-vm ssh per point; --tpu_name,
                    --tpu_zone, --tpu_project); every point runs, the failed ones are listed;
  --executor=gke    writes <workdir>/gke_job.yaml, an Indexed Job (--image built from the
                    Dockerfile, --gke_claim, --tpu_type, ...).
--point=I runs point I alone (what the scripts' tasks call); it passes SIGTERM and SIGUSR1 on
to the trainer, and exits 0 when the point finished, 75 when it was preempted (checkpointed:
run it again to resume), 1 when it failed. Rerunning skips finished points and resumes
interrupted ones. Exit status 0 when every point run here finished.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from absl import app, flags

from ferjax import config_spec as spec_of_config
from ferjax.files import write_text
from ferjax.sweep import expand, local, manifest, scripts

_CONFIG = flags.DEFINE_string("config", None, "Config file[:arg] whose get_sweep(arg) to run.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Sweep folder (default runs/<config>[-arg]-sweep).")
_EXECUTOR = flags.DEFINE_enum("executor", "local", ["local", "slurm", "tpu", "gke"],
                              "Where the points run.")
_PARALLEL = flags.DEFINE_integer("parallel", 1, "local: points run at once (devices split).")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Print the commands or script; run nothing.")
_POINT = flags.DEFINE_integer("point", -1, "Run only this point (index in the manifest).")
_LAUNCH_FLAGS = flags.DEFINE_multi_string("launch_flag", [], "Extra launch.py flag per point.")
_PYTHON = flags.DEFINE_string("python", "python", "Python on the cluster (scripts only).")
_NODES = flags.DEFINE_integer("nodes", 1, "slurm: nodes per point (jax.distributed).")
_GPUS = flags.DEFINE_integer("gpus_per_node", 0, "slurm: GPUs per node (0: no request).")
_TIME = flags.DEFINE_string("time", "04:00:00", "slurm: time limit per point.")
_MAX_PARALLEL = flags.DEFINE_integer("max_parallel", 0, "slurm/gke: array tasks at once.")
_SLURM_OPTIONS = flags.DEFINE_multi_string("slurm_option", [], "Extra #SBATCH line.")
_CPUS = flags.DEFINE_integer("cpus_per_task", -1, "slurm: CPUs per task (-1: 8 per GPU, 8 "
                             "without; 0: no request).")
_MEM = flags.DEFINE_string("mem", "auto", "slurm: memory per node (auto: 4G per CPU; '': none).")
_GRACE = flags.DEFINE_integer("grace_s", 120, "slurm: seconds of SIGUSR1 warning before the "
                              "time limit or a preemption; the task checkpoints and requeues "
                              "itself (0: no signal, no requeue).")
_MAX_REQUEUES = flags.DEFINE_integer("max_requeues", 20, "slurm: times a preempted task "
                                     "requeues itself (SLURM_RESTART_COUNT).")
_CLAIM = flags.DEFINE_string("gke_claim", "ferjax-sweeps", "gke: PersistentVolumeClaim holding "
                             "the sweep folders (mounted at /sweeps).")
_TPU_NAME = flags.DEFINE_string("tpu_name", "my-tpu", "tpu: TPU VM name.")
_TPU_ZONE = flags.DEFINE_string("tpu_zone", "us-central2-b", "tpu: its zone.")
_TPU_PROJECT = flags.DEFINE_string("tpu_project", "", "tpu: GCP project ('' = default).")
_IMAGE = flags.DEFINE_string("image", "ferjax:cpu", "gke: container image built from the "
                             "repository's Dockerfile (its CPU build's tag; push it to your "
                             "registry and name it here, e.g. <registry>/ferjax:cuda).")
_TPU_TYPE = flags.DEFINE_string("tpu_type", "", "gke: TPU accelerator, e.g. tpu-v5-lite-podslice.")
_TPU_TOPOLOGY = flags.DEFINE_string("tpu_topology", "", "gke: TPU topology, e.g. 2x2.")
_CHIPS = flags.DEFINE_integer("chips", 0, "gke: TPU chips per pod.")
flags.mark_flag_as_required("config")

PROCESS_INDEX_VARS = ("SLURM_PROCID", "CLOUD_TPU_TASK_ID", "TPU_WORKER_ID")
# --point's exit status: the scripts requeue or retry a preempted point (ferjax.sweep.scripts).
POINT_EXIT = {"finished": 0, "interrupted": scripts.PREEMPTED_EXIT}


def slurm_allocation(cpus: int, mem: str, gpus_per_node: int) -> tuple[int, str]:
    """(--cpus-per-task, --mem) for the flags' values: -1 CPUs is 8 per GPU (8 without: the
    input workers and the step's own threads), "auto" memory 4G per CPU."""
    if cpus < 0:
        cpus = 8 * max(1, gpus_per_node)
    if mem == "auto":
        mem = f"{4 * cpus}G" if cpus else ""
    return cpus, mem


def default_workdir(config_spec: str) -> Path:
    """runs/<config file stem>[-<arg>]-sweep, filesystem-safe."""
    path, arg = expand.split_spec(config_spec)
    name = Path(path).stem + (f"-{arg}" if arg else "") + "-sweep"
    return Path("runs") / re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)


def _process_index() -> int:
    """This process's index within a multi-process point (SLURM task, TPU worker), else 0."""
    return next((int(os.environ[v]) for v in PROCESS_INDEX_VARS if os.environ.get(v)), 0)


def _summary(result: dict) -> int:
    counts = ", ".join(f"{n} {s}" for s, n in result["counts"].items() if n)
    print(f"sweep {result['sweep_dir']}: {counts}")
    for p in result["points"]:
        if p["status"] == "failed":
            print(f"  failed {p['name']}: {p.get('error', '?')} (log: {p['log']})")
    return 0 if result["counts"]["finished"] == len(result["points"]) else 1


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    config_spec = spec_of_config.resolve(_CONFIG.value)  # a module name becomes its file
    sweep_dir = Path(_WORKDIR.value) if _WORKDIR.value else default_workdir(config_spec)
    try:
        points = expand.expand(config_spec, sweep_dir.resolve(),
                               launch_flags=tuple(_LAUNCH_FLAGS.value))
    except expand.SweepError as e:
        sys.exit(f"error: {e}")
    extra = tuple(_LAUNCH_FLAGS.value)
    if _POINT.value >= 0:
        if _POINT.value >= len(points):
            sys.exit(f"error: --point={_POINT.value}; the sweep has {len(points)} points")
        point = points[_POINT.value]
        if manifest.read_result(point.workdir) is not None:
            print(f"[{point.name}] finished, skipped")
            return 0
        status = local.run_point(point, extra_flags=extra, process_index=_process_index(),
                                 forward_signals=True)
        if _process_index() == 0:
            manifest.write_manifest(sweep_dir, config_spec, points)
        print(f"[{point.name}] {status}")
        return POINT_EXIT.get(status, 1)

    state = manifest.write_manifest(sweep_dir, config_spec, points)
    todo = tuple(p.index for p, e in zip(points, state["points"]) if e["status"] != "finished")
    if _EXECUTOR.value == "local":
        if _DRY_RUN.value:
            for p in points:
                if p.index in todo:
                    print(" ".join(expand.launch_command(p, extra)))
            return 0
        return _summary(local.run_local(points, sweep_dir, config_spec,
                                        parallel=_PARALLEL.value, extra_flags=extra))
    job = scripts.Job(config_spec, str(sweep_dir.resolve()), os.getcwd(), todo,
                      python=_PYTHON.value, launch_flags=extra)
    if _EXECUTOR.value == "slurm":
        cpus, mem = slurm_allocation(_CPUS.value, _MEM.value, _GPUS.value)
        text, name, how = scripts.slurm(
            job, nodes=_NODES.value, gpus_per_node=_GPUS.value, time=_TIME.value,
            max_parallel=_MAX_PARALLEL.value, options=_SLURM_OPTIONS.value,
            cpus_per_task=cpus, mem=mem, grace_s=_GRACE.value,
            max_requeues=_MAX_REQUEUES.value), "slurm.sh", "sbatch"
    elif _EXECUTOR.value == "tpu":
        text, name, how = scripts.tpu_vm(
            job, name=_TPU_NAME.value, zone=_TPU_ZONE.value,
            project=_TPU_PROJECT.value), "tpu_vm.sh", "bash"
    else:
        text, name, how = scripts.gke(
            job, image=_IMAGE.value, parallelism=_MAX_PARALLEL.value or len(todo),
            tpu_type=_TPU_TYPE.value, tpu_topology=_TPU_TOPOLOGY.value,
            chips=_CHIPS.value, claim=_CLAIM.value), "gke_job.yaml", "kubectl apply -f"
    if _DRY_RUN.value:
        print(text, end="")
        return 0
    write_text(sweep_dir / name, text)
    print(f"wrote {sweep_dir / name} ({len(todo)} unfinished points); submit: {how} "
          f"{sweep_dir / name}")
    return 0


def console_main():
    """The ferjax-sweep console command."""
    sys.exit(app.run(main))


if __name__ == "__main__":
    console_main()
