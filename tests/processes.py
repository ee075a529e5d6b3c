"""launch.py in 1 or N local processes on 127.0.0.1, as a cluster user starts it: each
process's output collected in a thread, exit codes, and a comparison of what a run leaves."""

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PEER_TIMEOUT_S = 8
# A 2-process run reproduces 1 process on 2 devices exactly in every train step and every
# prediction; reductions over the evaluation set gather in another order (docs/reliability.md).
CROSS_PROCESS_REL = 1e-6


def env(devices: int = 1) -> dict:
    """The test process's environment without its JAX/XLA settings; `devices` CPU devices."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_", "JAX_"))}
    out.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", JAX_DISABLE_MOST_OPTIMIZATIONS="1",
               FERJAX_PEER_TIMEOUT_S=str(PEER_TIMEOUT_S))
    if devices > 1:
        out["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    """launch.py (or `command`) in 1 or `processes` processes; collects each one's output."""

    def __init__(self, config_file, workdir, processes: int = 1, devices: int = 1,
                 extra=(), command=None):
        args = list(command or [sys.executable, str(REPO / "launch.py")])
        args += [f"--config={config_file}", f"--workdir={workdir}", *extra]
        if processes > 1:
            port = free_port()
            commands = [args + [f"--coordinator_address=127.0.0.1:{port}",
                                f"--num_processes={processes}", f"--process_id={i}"]
                        for i in range(processes)]
        else:
            commands = [args]
        self.workdir = Path(workdir)
        self.procs = [subprocess.Popen(c, cwd=REPO, env=env(devices), stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True) for c in commands]
        self.lines: list[list[str]] = [[] for _ in self.procs]
        self.readers = [threading.Thread(target=self._read, args=(i,), daemon=True)
                        for i in range(len(self.procs))]
        for r in self.readers:
            r.start()

    def _read(self, i):
        for line in self.procs[i].stdout:
            self.lines[i].append(line)

    def output(self, i: int = 0) -> str:
        return "".join(self.lines[i])

    def outputs(self, tail: int = 2500) -> str:
        """Each process's last output, without native stack dumps and module lists."""
        def readable(i):
            return "".join(l for l in self.lines[i]
                           if not l.startswith(("Extension modules", "    @ ")))[-tail:]
        return "\n".join(f"--- process {i} ---\n{readable(i)}" for i in range(len(self.procs)))

    def wait_for(self, predicate, timeout=300.0, poll=0.001):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return
            if all(p.poll() is not None for p in self.procs):
                break
            time.sleep(poll)
        raise AssertionError("condition not reached; output:\n" + self.outputs())

    def wait_for_step(self, step: int):
        self.wait_for(lambda: any(l.startswith(f"step {step}/") for l in self.lines[0]),
                      poll=0.01)

    def finish(self, timeout=600) -> list[int]:
        try:
            codes = [p.wait(timeout=timeout) for p in self.procs]
        except subprocess.TimeoutExpired:
            for p in self.procs:
                p.kill()
            raise AssertionError(f"still running after {timeout} s:\n" + self.outputs())
        for r in self.readers:
            r.join(timeout=10)
        return codes


def finished(config_file, workdir, processes=1, devices=1, extra=()) -> Run:
    """A run to its end; asserts every process exited 0."""
    run = Run(config_file, workdir, processes, devices, extra)
    codes = run.finish()
    assert codes == [0] * processes, run.outputs()
    return run


# What a run leaves for its user, compared between two runs of one experiment: every JSON file
# (results.json, the evaluators' files, summaries) and the names of the figures.
# input_workers/ holds one resume record per process (ferjax.train.feed.input_workers).
_NOT_RESULTS = ("checkpoints", "checkpoints_best", "checkpoints_damaged", "tensorboard",
                "input_workers")


def result_files(workdir: Path) -> dict[str, set[str]]:
    """{"json": relative paths, "png": relative paths} under workdir (checkpoints excluded)."""
    found: dict[str, set[str]] = {"json": set(), "png": set()}
    for path in workdir.rglob("*"):
        rel = path.relative_to(workdir)
        if path.is_file() and not set(rel.parts) & set(_NOT_RESULTS) and path.suffix[1:] in found:
            found[path.suffix[1:]].add(str(rel))
    return found


def assert_close(got, want, where: str, rel: float = CROSS_PROCESS_REL) -> None:
    """Equal JSON values: floats to `rel` (and 1e-9 absolute), everything else exactly."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (where, got, want)
        for k in want:
            assert_close(got[k], want[k], f"{where}.{k}", rel)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (where, got, want)
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{where}[{i}]", rel)
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, (int, float)), (where, got, want)
        assert math.isclose(got, want, rel_tol=rel, abs_tol=1e-9), (where, got, want)
    else:
        assert got == want, (where, got, want)


# Files whose content names the run's own workdir or process layout, not its results.
_RUN_DESCRIPTIONS = ("config.json",)


def assert_same_outputs(workdir: Path, reference: Path, rel: float = CROSS_PROCESS_REL) -> None:
    """The same JSON files with equal contents (to `rel`) and the same figures."""
    got, want = result_files(workdir), result_files(reference)
    assert got == want, (sorted(got["json"] ^ want["json"]), sorted(got["png"] ^ want["png"]))
    for name in sorted(want["json"]):
        if Path(name).name in _RUN_DESCRIPTIONS:
            continue
        assert_close(json.loads((workdir / name).read_text()),
                     json.loads((reference / name).read_text()), name, rel)
