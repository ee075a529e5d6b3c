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


def slurm(job: Job, *, nodes: int = 1, gpus_per_node: int = 0, time: str = "04:00:00",
          max_parallel: int = 0, options: Sequence[str] = ()) -> str:
    """An sbatch job-array script: task I runs point I on `nodes` nodes.

    Multi-node points start one process per node with srun; launch.py then initialises
    jax.distributed from SLURM's environment (cluster auto-detection), and only process 0
    writes files and the point's status.
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
             f"#SBATCH --output={job.sweep_dir}/slurm-%A_%a.out"]
    if gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={gpus_per_node}")
    lines += [f"#SBATCH {o}" for o in options]
    lines += ["set -euo pipefail", f"cd {shlex.quote(job.repo)}",
              f"srun {job.point_command('$SLURM_ARRAY_TASK_ID')}", ""]
    return "\n".join(lines)


def tpu_vm(job: Job, *, name: str, zone: str, project: str = "", workers: str = "all") -> str:
    """A bash script running the points one after another on a TPU VM (every host of a slice).

    On a multi-host slice each host runs the point's process; launch.py's
    `--distributed=on` lets jax.distributed find the slice's hosts itself. The sweep folder
    must be on storage all hosts share (NFS/Filestore or a mounted bucket).
    """
    if not job.points:
        raise ValueError("every point is finished: nothing to run")
    project_flag = f" --project={shlex.quote(project)}" if project else ""
    remote = f"cd {shlex.quote(job.repo)} && {job.point_command('$I')}"
    return "\n".join([
        "#!/bin/bash", "set -euo pipefail",
        f"for I in {' '.join(map(str, sorted(job.points)))}; do",
        f"  gcloud compute tpus tpu-vm ssh {shlex.quote(name)} --zone={shlex.quote(zone)}"
        f"{project_flag} --worker={workers} \\",
        f"    --command=\"{remote.replace(chr(34), chr(92) + chr(34))}\"",
        "done", ""])


def gke(job: Job, *, image: str, parallelism: int = 1, tpu_type: str = "",
        tpu_topology: str = "", chips: int = 0) -> str:
    """A Kubernetes Indexed Job: pod I runs point I (single-host points).

    The image must hold the repository at job.repo and the sweep folder must be a shared
    volume (add it under `volumes`); tpu_type/tpu_topology/chips request a TPU node pool.
    """
    if not job.points:
        raise ValueError("every point is finished: nothing to run")
    points = sorted(job.points)
    selector = ""
    if tpu_type:
        selector = ("      nodeSelector:\n"
                    f"        cloud.google.com/gke-tpu-accelerator: {tpu_type}\n"
                    f"        cloud.google.com/gke-tpu-topology: {tpu_topology}\n")
    limits = (f"        resources:\n          limits:\n            google.com/tpu: {chips}\n"
              if chips else "")
    name = re.sub(r"[^a-z0-9-]+", "-", Path(job.sweep_dir).name.lower()).strip("-")
    shell = (f"POINTS=({' '.join(map(str, points))}); I=${{POINTS[$JOB_COMPLETION_INDEX]}}; "
             f"cd {shlex.quote(job.repo)} && {job.point_command('$I')}")
    return (
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n"
        f"  name: sweep-{name[:50]}\n"
        f"spec:\n  completions: {len(points)}\n  parallelism: {parallelism}\n"
        "  completionMode: Indexed\n  backoffLimit: 0\n  template:\n    spec:\n"
        "      restartPolicy: Never\n" + selector +
        "      containers:\n      - name: point\n"
        f"        image: {image}\n"
        "        command: [\"bash\", \"-c\"]\n"
        f"        args: [{_yaml_str(shell)}]\n"
        + limits)


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
