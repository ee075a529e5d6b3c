"""One job per workdir: a lock that a second launcher on the same workdir is refused by.

Two jobs writing one workdir would interleave checkpoints, metrics and results. The job's
process 0 holds an exclusive `flock` on workdir/ferjax.lock for the whole run and writes into
it who holds it (host, pid, start time, job); the other processes of a multi-process job share
process 0's lock (they wait for its outcome and stop with it when it is refused). The kernel
drops a flock when its holder exits in any way, kill -9 included, so a lock left by a dead job
is taken over on the next start with one line naming the old holder; the file is removed when
the run ends.

On a shared filesystem the lock protects across hosts where the filesystem supports flock
(NFSv4, Lustre and GPFS do); where it does not, flock is local to each host and only jobs on
the same host are kept apart.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Callable, Iterator

import jax

from ferjax.train import host_local

LOCK_FILE = "ferjax.lock"


class WorkdirLockedError(RuntimeError):
    """Another job holds the workdir."""


def holder_record() -> dict:
    """Who this process is: host, pid, start time (UTC, seconds) and the cluster job id."""
    job = next((os.environ[v] for v in ("SLURM_JOB_ID", "JOB_COMPLETION_INDEX", "TPU_NAME")
                if os.environ.get(v)), "")
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"), "job": job}


def describe(record: dict) -> str:
    job = f", job {record['job']}" if record.get("job") else ""
    return (f"pid {record.get('pid', '?')} on host {record.get('host', '?')} (started "
            f"{record.get('started', '?')}{job})")


def _read_record(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return {}


def _lock(path: Path, workdir: Path) -> int:
    """An open descriptor of `path` holding its flock."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WorkdirLockedError(
                f"{workdir} is in use by another job: {describe(_read_record(path))} holds "
                f"{path}. Wait for it to finish, stop it, or use another --workdir.") from None
        # The holder removes the file before releasing it: a lock won on a removed file is
        # no lock, so try again on the file now at `path`.
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def hold_for_job(workdir: str | Path) -> Iterator[None]:
    """hold(workdir) by process 0 for every process of the job: the others wait for its
    outcome and, when it was refused, stop with HostLocalFailedError naming the holder."""
    with contextlib.ExitStack() as stack:
        is_main = jax.process_index() == 0
        host_local.run_on_main(f"locking {workdir}",
                               lambda: stack.enter_context(hold(workdir)) if is_main else None)
        yield


@contextlib.contextmanager
def hold(workdir: str | Path, *, report: Callable[[str], None] = print) -> Iterator[dict]:
    """Holds workdir's lock for the body; yields this holder's record.

    Raises WorkdirLockedError naming the holder (host, pid, start time) when a live process
    holds it. A workdir that did not exist and is empty when the body ends is removed again,
    so a start that fails leaves no trace.
    """
    workdir = Path(workdir)
    created = not workdir.exists()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / LOCK_FILE
    fd = _lock(path, workdir)
    try:
        previous = _read_record(path)
        if previous:
            report(f"took over {path} from {describe(previous)}, which is gone")
        record = holder_record()
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        try:
            yield record
        finally:
            # Removed while still locked, so no other job can lock the old file meanwhile.
            path.unlink(missing_ok=True)
            if created and not any(workdir.iterdir()):
                workdir.rmdir()
    finally:
        os.close(fd)
