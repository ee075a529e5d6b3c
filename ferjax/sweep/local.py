"""Runs sweep points on this machine: one after another, or N at a time on split devices.

Each point is a `launch.py` subprocess with its own workdir and log; finished points are
skipped and interrupted ones resumed (rerunning a point's command resumes it). SIGTERM or
Ctrl-C stops dispatching, forwards SIGTERM to the running points (they checkpoint and stop) and
records them as interrupted.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import glob
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

from ferjax.sweep import expand, manifest


@dataclasses.dataclass(frozen=True)
class Slot:
    """What one of the N parallel processes may use: env variables and (CPU) cores."""
    label: str
    env: dict[str, str]
    cores: tuple[int, ...] = ()


def detect_devices() -> tuple[str, list[str]]:
    """("gpu", ids) | ("tpu", chip ids) | ("cpu", core ids) of this machine, without JAX."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        return "gpu", [d for d in visible.split(",") if d]
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
        gpus = [l for l in out.stdout.splitlines() if l.startswith("GPU ")]
        if out.returncode == 0 and gpus:
            return "gpu", [str(i) for i in range(len(gpus))]
    chips = sorted(glob.glob("/dev/accel*")) or sorted(
        p for p in glob.glob("/dev/vfio/*") if Path(p).name.isdigit())
    if chips:
        return "tpu", [str(i) for i in range(len(chips))]
    return "cpu", [str(c) for c in sorted(os.sched_getaffinity(0))]


def split_devices(kind: str, ids: Sequence[str], parallel: int) -> list[Slot]:
    """Splits the devices into `parallel` disjoint groups, one per process.

    GPUs through CUDA_VISIBLE_DEVICES; TPU chips one per process (TPU_VISIBLE_CHIPS with
    1,1,1 process bounds and its own port); CPU cores by affinity, each process's XLA seeing one
    host device.
    """
    if parallel < 1:
        raise ValueError(f"--parallel={parallel}; need at least 1")
    if parallel == 1:
        return [Slot("all devices", {})]
    if len(ids) < parallel:
        raise ValueError(f"--parallel={parallel} needs at least {parallel} {kind} devices; "
                         f"found {len(ids)}")
    per, extra = divmod(len(ids), parallel)  # contiguous groups keep neighbouring GPUs together
    bounds = [i * per + min(i, extra) for i in range(parallel + 1)]
    groups = [list(ids[bounds[i]:bounds[i + 1]]) for i in range(parallel)]
    if kind == "gpu":
        return [Slot(f"GPU {','.join(g)}", {"CUDA_VISIBLE_DEVICES": ",".join(g)}) for g in groups]
    if kind == "tpu":
        if len(ids) != parallel:
            raise ValueError(f"--parallel={parallel}: TPU chips split one per process only "
                             f"({len(ids)} chips here); use --parallel={len(ids)} or 1")
        return [Slot(f"TPU chip {g[0]}", {
            "TPU_VISIBLE_CHIPS": g[0], "TPU_CHIPS_PER_PROCESS_BOUNDS": "1,1,1",
            "TPU_PROCESS_BOUNDS": "1,1,1", "TPU_PROCESS_PORT": str(8476 + i),
            "TPU_PROCESS_ADDRESSES": f"localhost:{8476 + i}", "CLOUD_TPU_TASK_ID": "0"})
            for i, g in enumerate(groups)]
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        flags = f"{flags} --xla_force_host_platform_device_count=1".strip()
    return [Slot(f"CPU cores {','.join(g)}", {"XLA_FLAGS": flags}, tuple(int(c) for c in g))
            for g in groups]


def last_error(log: Path) -> str:
    """The last non-empty line of a point's log (the exception or error message)."""
    lines = [l.strip() for l in log.read_text(errors="replace").splitlines() if l.strip()]
    return lines[-1] if lines else "no output"


class _Running:
    """The points' live processes, so that a stop request reaches them."""

    def __init__(self):
        self._procs: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def add(self, index: int, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs[index] = proc
        if self.stopping.is_set():
            proc.send_signal(signal.SIGTERM)

    def remove(self, index: int) -> None:
        with self._lock:
            self._procs.pop(index, None)

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            for proc in self._procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)


class _Slots:
    """Free slots, handed to the waiting point declared first (so a sweep declared seed-major
    finishes whole seeds first, whatever order the points became ready in)."""

    def __init__(self, slots: Sequence[Slot]):
        self._free = list(slots)
        self._waiting: set[int] = set()
        self._cond = threading.Condition()

    def take(self, index: int, stop: threading.Event) -> Slot | None:
        """Blocks until this point is first in line and a slot is free; None once stopping."""
        with self._cond:
            self._waiting.add(index)
            try:
                while not (self._free and index == min(self._waiting)):
                    if stop.is_set():
                        return None
                    self._cond.wait(0.2)
                return self._free.pop(0)
            finally:
                self._waiting.discard(index)
                self._cond.notify_all()

    def give(self, slot: Slot) -> None:
        with self._cond:
            self._free.append(slot)
            self._cond.notify_all()


def run_point(point: expand.Point, slot: Slot = Slot("inherited", {}),
              extra_flags: tuple[str, ...] = (), running: _Running | None = None,
              process_index: int = 0, forward_signals: bool = False) -> str:
    """Runs (or resumes) one point to its end; returns its status (manifest.STATES).

    process_index > 0 (a further process of a multi-process point): logs to
    launch.<index>.log and leaves the status to process 0. forward_signals: SIGTERM and SIGUSR1
    sent to this process (a cluster's preemption notice to the job step) are passed on to the
    trainer, which checkpoints and exits; the point is then "interrupted".
    """
    point.workdir.mkdir(parents=True, exist_ok=True)
    command = expand.launch_command(point, extra_flags)
    write_status = process_index == 0
    log = point.workdir / (manifest.LOG if write_status else f"launch.{process_index}.log")
    env = {**os.environ, **slot.env, "PYTHONUNBUFFERED": "1"}
    cores = set(slot.cores)
    with open(log, "a") as out:
        out.write(f"=== {time.strftime('%Y-%m-%dT%H:%M:%S')} on {slot.label}: "
                  f"{' '.join(command)}\n")
        out.flush()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores
                                else None)
        if write_status:
            manifest.write_status(point.workdir, "running", pid=proc.pid, log=str(log),
                                  devices=slot.label)
        if running is not None:
            running.add(point.index, proc)
        try:
            with _forwarding(proc, forward_signals) as forwarded:
                returncode = proc.wait()
        finally:
            if running is not None:
                running.remove(point.index)
    if manifest.read_result(point.workdir) is not None:
        status, extra = "finished", {}
    elif returncode == 0 or forwarded or (running is not None and running.stopping.is_set()):
        # Preempted: checkpointed (or stopped before training began); a rerun resumes.
        status, extra = "interrupted", {}
    else:
        status, extra = "failed", {"error": last_error(log)}
    if write_status:
        manifest.write_status(point.workdir, status, returncode=returncode, log=str(log),
                              devices=slot.label, **extra)
    return status


FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


@contextlib.contextmanager
def _forwarding(proc: subprocess.Popen, active: bool):
    """Passes FORWARDED_SIGNALS received by this process on to `proc` while it runs; yields
    the list of signals passed on."""
    previous, received = {}, []

    def forward(signum, frame):
        received.append(signum)
        proc.send_signal(signum)

    if active:
        for signum in FORWARDED_SIGNALS:
            previous[signum] = signal.signal(signum, forward)
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def run_local(points: Sequence[expand.Point], sweep_dir: Path, config_spec: str, *,
              parallel: int = 1, extra_flags: tuple[str, ...] = (),
              slots: Sequence[Slot] | None = None,
              echo: Callable[[str], None] = print) -> dict:
    """Runs every unfinished point, `parallel` at a time; returns the final manifest.

    A failing point is recorded as failed (with its error) and the others go on.
    """
    sweep_dir = Path(sweep_dir)
    if slots is None:
        slots = split_devices(*detect_devices(), parallel)
    todo = []
    for p in points:
        state = manifest.point_state(p.workdir)["status"]
        if state == "finished":
            echo(f"[{p.name}] finished, skipped")
        else:
            todo.append(p)
            if state == "interrupted":
                echo(f"[{p.name}] interrupted earlier: resuming")
    lock = threading.Lock()
    # The first point of each dataset starts alone with it: it may build it (TFDS preparation
    # is not safe to run twice at once); the others with that dataset start once it has
    # loaded its data (data_stats.json) or ended.
    first: dict[str, threading.Event] = {}
    leader_of: dict[str, expand.Point] = {}
    for p in todo:
        if p.data_key not in first:
            first[p.data_key] = threading.Event()
            leader_of[p.data_key] = p
    leaders = {p.index for p in leader_of.values()}

    def data_ready(key: str) -> bool:
        return first[key].is_set() or any(leader_of[key].workdir.glob("**/data_stats.json"))

    manifest.write_manifest(sweep_dir, config_spec, points)
    slots_free = _Slots(slots)
    running = _Running()

    def work(point: expand.Point) -> str:
        if point.index not in leaders:
            while not data_ready(point.data_key):
                if running.stopping.is_set():
                    return "pending"
                time.sleep(0.2)
        slot = slots_free.take(point.index, running.stopping)
        if slot is None:
            return "pending"
        try:
            echo(f"[{point.name}] started on {slot.label}")
            status = run_point(point, slot, extra_flags, running)
            state = manifest.point_state(point.workdir)
            detail = f": {state['error']}" if status == "failed" else ""
            echo(f"[{point.name}] {status}{detail} (log: {point.workdir / manifest.LOG})")
            return status
        finally:
            if point.index in leaders:
                first[point.data_key].set()
            slots_free.give(slot)
            with lock:
                manifest.write_manifest(sweep_dir, config_spec, points)

    previous = {sig: signal.signal(sig, lambda *_: running.stop())
                for sig in (signal.SIGTERM, signal.SIGINT)} \
        if threading.current_thread() is threading.main_thread() else {}
    try:
        # One thread per point (most wait); the slots bound how many run at once.
        with concurrent.futures.ThreadPoolExecutor(max(1, len(todo))) as pool:
            futures = [pool.submit(work, p) for p in todo]
            while not all(f.done() for f in futures):
                time.sleep(0.2)  # short waits keep the signal handler responsive
            for f in futures:
                f.result()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return manifest.write_manifest(sweep_dir, config_spec, points)
