"""Cluster scripts for a sweep, written (never submitted): SLURM job array, TPU VM, GKE.

Every script's unit of work is `python -m ferjax.sweep ... --point=I`, which runs point I's
launch.py in the point's workdir and records its status, so reruns, the manifest and the
collector work the same wherever the points ran. Only unfinished points are listed.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path
from typing import Sequence


@dataclasses.dataclass(frozen=True)
class Job:
    """What every script needs: the sweep, where to run from, and which points."""
    config: str
    sweep_dir: str
    repo: str
    points: tuple[int, ...]
    python: str = "python"
    launch_flags: tuple[str, ...] = ()

    def point_command(self, index: str) -> str:
        """The shell command of one point (index may be a shell variable like $I)."""
        flags = "".join(f" --launch_flag={shlex.quote(f)}" for f in self.launch_flags)
        return (f"{self.python} -m ferjax.sweep --config={shlex.quote(self.config)} "
                f"--workdir={shlex.quote(self.sweep_dir)} --point={index}{flags}")


def _ranges(indices: Sequence[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5' (SLURM array syntax)."""
    parts, start = [], None
    for i, v in enumerate(indices):
        if start is None:
            start = v
        if i + 1 == len(indices) or indices[i + 1] != v + 1:
            parts.append(str(v) if start == v else f"{start}-{v}")
            start = None
    return ",".join(parts)


# Exit status of `python -m ferjax.sweep --point=I` when the point was preempted (checkpointed,
# not finished): EX_TEMPFAIL, "try again later". The scripts requeue or retry on it.
PREEMPTED_EXIT = 75
# Where the GKE image holds the repository and where the sweep volume is mounted.
IMAGE_REPO = "/opt/ferjax"
SWEEP_MOUNT = "/sweeps"


def slurm(job: Job, *, nodes: int = 1, gpus_per_node: int = 0, time: str = "04:00:00",
          max_parallel: int = 0, options: Sequence[str] = (), cpus_per_task: int = 8,
          mem: str = "32G", grace_s: int = 120, max_requeues: int = 20) -> str:
    """An sbatch job-array script: task I runs point I on `nodes` nodes, and resumes itself.

    Multi-node points start one process per node with srun; launch.py then initialises
    jax.distributed from SLURM's environment (cluster auto-detection), and only process 0
    writes files and the point's status. cpus_per_task / mem: the allocation per task (0 / ""
    requests none); the trainer sizes its input workers from it. grace_s > 0: SLURM sends
    SIGUSR1 to the job step (the srun'd processes, not the batch shell: no "B:") that many
    seconds before the time limit or a preemption; the trainer saves a checkpoint and the point
    exits PREEMPTED_EXIT, on which the script requeues its own array task (`--requeue`), at
    most max_requeues times (SLURM_RESTART_COUNT), and the requeued task resumes from the
    checkpoint.
    """
    if not job.points:
        raise ValueError("every point is finished: nothing to submit")
    array = _ranges(sorted(job.points)) + (f"%{max_parallel}" if max_parallel else "")
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name=sweep-{Path(job.sweep_dir).name}",
             f"#SBATCH --array={array}",
             f"#SBATCH --nodes={nodes}",
             "#SBATCH --ntasks-per-node=1",
             f"#SBATCH --time={time}",
             f"#SBATCH --output={job.sweep_dir}/slurm-%A_%a.out",
             "#SBATCH --open-mode=append"]  # a requeued task adds to its log
    if cpus_per_task:
        lines.append(f"#SBATCH --cpus-per-task={cpus_per_task}")
    if mem:
        lines.append(f"#SBATCH --mem={mem}")
    if gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={gpus_per_node}")
    if grace_s:
        lines += [f"#SBATCH --signal=USR1@{grace_s}", "#SBATCH --requeue"]
    lines += [f"#SBATCH {o}" for o in options]
    # srun does not inherit sbatch's --cpus-per-task (SLURM >= 22.05): ask for it again.
    srun = "srun" + (f" --cpus-per-task={cpus_per_task}" if cpus_per_task else "")
    lines += ["set -uo pipefail  # no -e: the point's exit status decides what happens next",
              f"cd {shlex.quote(job.repo)} || exit 1",
              f"{srun} {job.point_command('$SLURM_ARRAY_TASK_ID')}", "status=$?"]
    if grace_s:
        task = '"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"'
        lines += [f"if [ \"$status\" -eq {PREEMPTED_EXIT} ]; then",
                  f'  if [ "${{SLURM_RESTART_COUNT:-0}}" -lt {max_requeues} ]; then',
                  '    echo "point $SLURM_ARRAY_TASK_ID preempted: requeueing '
                  '${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
                  f"    scontrol requeue {task} && exit 0",
                  "  fi",
                  f'  echo "point $SLURM_ARRAY_TASK_ID preempted after {max_requeues} requeues: '
                  'rerun the sweep command to continue"',
                  "fi"]
    lines += ['exit "$status"', ""]
    return "\n".join(lines)


def tpu_vm(job: Job, *, name: str, zone: str, project: str = "", workers: str = "all") -> str:
    """A bash script running the points one after another on a TPU VM (every host of a slice).

    On a multi-host slice each host runs the point's process; launch.py's
    `--distributed=on` lets jax.distributed find the slice's hosts itself. The sweep folder
    must be on storage all hosts share (NFS/Filestore or a mounted bucket). A failed point
    does not stop the others: the script runs every point, a preempted one (PREEMPTED_EXIT)
    once more right away, lists the failed ones at the end and exits 1 if there were any.
    """
    if not job.points:
        raise ValueError("every point is finished: nothing to run")
    project_flag = f" --project={shlex.quote(project)}" if project else ""
    remote = f"cd {shlex.quote(job.repo)} && {job.point_command('$I')}"
    ssh = (f"gcloud compute tpus tpu-vm ssh {shlex.quote(name)} --zone={shlex.quote(zone)}"
           f"{project_flag} --worker={workers} \\\n"
           f"      --command=\"{remote.replace(chr(34), chr(92) + chr(34))}\"")
    return "\n".join([
        "#!/bin/bash", "set -uo pipefail", "failed=()",
        f"for I in {' '.join(map(str, sorted(job.points)))}; do",
        "  for try in 1 2; do", f"    {ssh}", "    status=$?",
        f"    [ \"$status\" -eq {PREEMPTED_EXIT} ] || break",
        "  done",
        '  [ "$status" -eq 0 ] || failed+=("$I")',
        "done",
        'if [ "${#failed[@]}" -gt 0 ]; then',
        '  echo "failed points: ${failed[*]} (rerun this script to retry them)" >&2',
        "  exit 1",
        "fi",
        'echo "every point finished"', ""])


def gke(job: Job, *, image: str, parallelism: int = 1, tpu_type: str = "",
        tpu_topology: str = "", chips: int = 0, claim: str = "ferjax-sweeps",
        cpus: int = 0, mem: str = "") -> str:
    """A Kubernetes Indexed Job: pod I runs point I (single-host points).

    The image (built from the repository's Dockerfile) holds ferjax at IMAGE_REPO; the sweep
    folder lives on the PersistentVolumeClaim `claim`, mounted at SWEEP_MOUNT, as
    SWEEP_MOUNT/<sweep folder name>, so nothing of the submitting machine's paths is in the
    Job. A pod stopped by a node preemption or exiting PREEMPTED_EXIT is retried without
    counting as a failure (podFailurePolicy); a real failure fails its index only
    (backoffLimitPerIndex 0). tpu_type/tpu_topology/chips request a TPU node pool; cpus/mem
    the pod's CPU and memory requests.
    """
    if not job.points:
        raise ValueError("every point is finished: nothing to run")
    points = sorted(job.points)
    pod_sweep = f"{SWEEP_MOUNT}/{Path(job.sweep_dir).name}"
    command = dataclasses.replace(job, sweep_dir=pod_sweep, config=portable_config(job.config,
                                                                                   job.repo))
    selector = ""
    if tpu_type:
        selector = ("      nodeSelector:\n"
                    f"        cloud.google.com/gke-tpu-accelerator: {tpu_type}\n"
                    f"        cloud.google.com/gke-tpu-topology: {tpu_topology}\n")
    resources = ""
    requests = ([f"            cpu: {cpus}"] if cpus else []) + (
        [f"            memory: {mem}"] if mem else [])
    if chips or requests:
        resources = "        resources:\n"
        if requests:
            resources += "          requests:\n" + "\n".join(requests) + "\n"
        if chips:
            resources += f"          limits:\n            google.com/tpu: {chips}\n"
    name = re.sub(r"[^a-z0-9-]+", "-", Path(job.sweep_dir).name.lower()).strip("-")
    # exec: python becomes the container's main process and so receives the pod's SIGTERM.
    shell = (f"POINTS=({' '.join(map(str, points))}); I=${{POINTS[$JOB_COMPLETION_INDEX]}}; "
             f"exec {command.point_command('$I')}")
    return (
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n"
        f"  name: sweep-{name[:50]}\n"
        f"spec:\n  completions: {len(points)}\n  parallelism: {parallelism}\n"
        "  completionMode: Indexed\n  backoffLimitPerIndex: 0\n"
        "  podFailurePolicy:\n    rules:\n"
        "    - action: Ignore\n      onPodConditions:\n      - type: DisruptionTarget\n"
        "    - action: Ignore\n      onExitCodes:\n        containerName: point\n"
        f"        operator: In\n        values: [{PREEMPTED_EXIT}]\n"
        "  template:\n    spec:\n"
        "      restartPolicy: Never\n" + selector +
        "      containers:\n      - name: point\n"
        f"        image: {image}\n"
        f"        workingDir: {IMAGE_REPO}\n"
        "        command: [\"bash\", \"-c\"]\n"
        f"        args: [{_yaml_str(shell)}]\n"
        f"        volumeMounts:\n        - name: sweeps\n          mountPath: {SWEEP_MOUNT}\n"
        + resources +
        "      volumes:\n      - name: sweeps\n        persistentVolumeClaim:\n"
        f"          claimName: {claim}\n")


def portable_config(config: str, repo: str) -> str:
    """The config argument as the image can resolve it: one of ferjax's own config files as its
    module name (ferjax.configs.<name>[:arg]), another file inside `repo` relative to it;
    ValueError for a file the image does not hold."""
    path, sep, arg = config.partition(":")
    if not path.endswith(".py"):
        return config  # already a module name
    file = Path(path) if Path(path).is_absolute() else Path(repo) / path
    resolved = file.resolve()  # through the checkout's configs -> ferjax/configs link
    own = (Path(__file__).resolve().parents[1] / "configs").resolve()
    if resolved.parent == own:
        return f"ferjax.configs.{resolved.stem}{sep}{arg}"
    try:
        return f"{resolved.relative_to(Path(repo).resolve())}{sep}{arg}"
    except ValueError:
        raise ValueError(f"--config={config} is outside the repository ({repo}), so the image "
                         "does not hold it: move it into the repository and rebuild the image"
                         ) from None


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
