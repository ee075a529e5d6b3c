"""A sweep's state on disk: one status file per point, a JSON manifest in the parent workdir.

A point is finished when its run wrote its results (results.json; crossval.json for k-fold
runs, stagewise.json for stage-wise ones), interrupted when it has checkpoints but no results
(or its recorded process is gone), failed when its last run exited with an error, running while
its process lives, else pending. Each point's runner writes only its own status file, and the
manifest is rebuilt from all of them, so concurrent runners (SLURM array tasks) never lose
each other's updates.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from ferjax.files import json_text

MANIFEST = "sweep.json"
STATUS = "sweep_point.json"
LOG = "launch.log"
STATES = ("pending", "running", "interrupted", "finished", "failed")


def write_json(path: Path, obj: Any) -> None:
    """Atomic write (temp file + rename): readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json_text(obj))
    os.replace(tmp, path)


def read_result(workdir: Path) -> dict[str, Any] | None:
    """The point's final scalars (accuracy, macro_f1, ...) or None when it has not finished.

    k-fold runs report the mean over folds (and `<name>_std`, `num_folds`); stage-wise runs
    report their last phase.
    """
    workdir = Path(workdir)
    if (workdir / "results.json").is_file():
        return json.loads((workdir / "results.json").read_text())
    if (workdir / "crossval.json").is_file():
        cv = json.loads((workdir / "crossval.json").read_text())
        out = {k[:-5]: v for k, v in cv.items() if k.endswith("_mean")}
        out.update({k: v for k, v in cv.items() if not k.endswith("_mean")})
        return out
    if (workdir / "stagewise.json").is_file():
        stages = json.loads((workdir / "stagewise.json").read_text())
        return {**stages[stages["phases"][-1]], "phase": stages["phases"][-1]}
    return None


def has_checkpoints(workdir: Path) -> bool:
    """Whether any run under workdir (folds and phases included) saved a checkpoint."""
    return any(p.name.isdigit() for c in Path(workdir).glob("**/checkpoints") for p in c.iterdir())


def write_status(workdir: Path, status: str, **fields: Any) -> None:
    """Records a point's state (with host, pid, time) in its own status file."""
    if status not in STATES:
        raise ValueError(f"unknown point status {status!r}; expected one of {STATES}")
    write_json(Path(workdir) / STATUS, {"status": status, "host": socket.gethostname(),
                                        "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **fields})


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an unreaped child of a killed driver)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True  # no /proc (macOS): trust kill(0)


def point_state(workdir: Path) -> dict[str, Any]:
    """{"status": one of STATES, ...the status file's fields (error, returncode, ...)}."""
    workdir = Path(workdir)
    status_file = workdir / STATUS
    recorded = json.loads(status_file.read_text()) if status_file.is_file() else {}
    if read_result(workdir) is not None:
        return {**recorded, "status": "finished"}
    status = recorded.get("status", "pending")
    if status == "running" and recorded.get("host") == socket.gethostname() and not _alive(
            int(recorded.get("pid", -1))):
        status = "interrupted"
    if status in ("pending", "finished") and workdir.exists() and has_checkpoints(workdir):
        status = "interrupted"
    return {**recorded, "status": status}


def build_manifest(sweep_dir: Path, config_spec: str, points) -> dict[str, Any]:
    """The manifest's content from the points' status files (ferjax.sweep.expand.Point list)."""
    entries = []
    for p in points:
        state = point_state(p.workdir)
        entries.append({"name": p.name, "overrides": p.overrides, "config": p.config,
                        "fields": p.fields, "workdir": str(p.workdir),
                        "log": str(Path(p.workdir) / LOG), **state})
    counts = {s: sum(e["status"] == s for e in entries) for s in STATES}
    return {"config": config_spec, "sweep_dir": str(sweep_dir), "counts": counts,
            "points": entries}


def write_manifest(sweep_dir: Path, config_spec: str, points) -> dict[str, Any]:
    """Rebuilds sweep_dir/sweep.json; returns its content."""
    manifest = build_manifest(sweep_dir, config_spec, points)
    write_json(Path(sweep_dir) / MANIFEST, manifest)
    return manifest


def read_manifest(sweep_dir: Path) -> dict[str, Any]:
    """sweep_dir/sweep.json, with each point's status refreshed from its workdir."""
    path = Path(sweep_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a sweep folder (run python -m "
                                "ferjax.sweep first)")
    manifest = json.loads(path.read_text())
    for entry in manifest["points"]:  # the folder may have moved (copied off a cluster)
        entry["workdir"] = str(Path(sweep_dir) / entry["name"])
        entry["log"] = str(Path(entry["workdir"]) / LOG)
        entry.update(point_state(Path(entry["workdir"])))
    manifest["counts"] = {s: sum(e["status"] == s for e in manifest["points"]) for s in STATES}
    return manifest
