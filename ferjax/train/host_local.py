"""Host-local sections of a multi-process run: work process 0 does alone while the others wait.

Training and its final test evaluation are distributed (every process feeds its shard of each
batch; ferjax.train.loop). What comes after — the evaluators' analyses and figures, a k-fold
or stage-wise summary — runs in one process: `run_on_main(name, fn)` calls `fn` on process 0
and makes every other process wait until it has finished, then raise if it failed. Without the
wait, the other processes would reach jax's shutdown barrier while process 0 still worked, and
the coordination service would kill both at its timeout; without the rule, a collective inside
`fn` (an orbax barrier, an all-gather) would wait for processes that never join it.

So code inside a host-local section must touch no collective. ferjax's own collective helpers
call `check_collective_allowed`, which raises CollectiveInHostLocalError there (a bug shows as
one error naming the collective, not a hang); orbax reads inside such a section go through
ferjax.train.checkpoint.restore_variables, whose checkpointer is single-process.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from typing import Callable, TypeVar

import jax

T = TypeVar("T")

# Process 0's outcome of section n is published under this key; every process runs the same
# sequence of sections (SPMD), so the n-th section has the same key in all of them.
_KEY = "ferjax/host_local/{n}/{name}"
_SEQUENCE = itertools.count()
_POLL_MS = 2_000  # short blocking reads, so the peer watchdog's thread keeps its heartbeats
_state = threading.local()


class CollectiveInHostLocalError(RuntimeError):
    """A collective was called inside a host-local section (see the module docstring)."""


class HostLocalFailedError(RuntimeError):
    """Process 0 failed inside a host-local section that this process waited for."""


def active() -> bool:
    """Whether this thread is inside a host-local section."""
    return getattr(_state, "section", None) is not None


def check_collective_allowed(what: str) -> None:
    """Raises CollectiveInHostLocalError naming `what` inside a host-local section."""
    section = getattr(_state, "section", None)
    if section is not None:
        raise CollectiveInHostLocalError(
            f"{what} is a collective over all processes, called inside the host-local section "
            f"{section!r}, which only process 0 runs: it would wait forever for the others. "
            "Do it before the section, on every process, or read without a collective.")


@contextlib.contextmanager
def _section(name: str):
    previous = getattr(_state, "section", None)
    _state.section = name
    try:
        yield
    finally:
        _state.section = previous


def _client():
    # jax.distributed has no public accessor for its client; multihost_utils uses this one.
    from jax._src import distributed as jax_distributed
    return jax_distributed.global_state.client


def _first_line(error: BaseException, limit: int = 300) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def run_on_main(name: str, fn: Callable[[], T]) -> T | None:
    """fn() on process 0 (its result; None on the others, which wait until it has finished).

    Single-process runs just call fn. In a multi-process run, a failure of fn raises on
    process 0 as it is and on every other process as HostLocalFailedError naming `name` and
    process 0's error, so every process exits non-zero.
    """
    if jax.process_count() == 1:
        with _section(name):
            return fn()
    key = _KEY.format(n=next(_SEQUENCE), name=name)
    client = _client()
    if jax.process_index() == 0:
        outcome = "ok"
        try:
            with _section(name):
                return fn()
        except BaseException as e:
            outcome = "failed: " + _first_line(e)
            raise
        finally:
            client.key_value_set(key, outcome, allow_overwrite=True)
    outcome = _wait_for(client, key)
    if outcome != "ok":
        raise HostLocalFailedError(f"process 0 {outcome} (in {name}); this process waited for "
                                   "it and stops too")
    return None


def _wait_for(client, key: str) -> str:
    while True:
        try:
            return client.blocking_key_value_get(key, _POLL_MS)
        except Exception as e:  # jaxlib raises its own XlaRuntimeError on a deadline
            if "DEADLINE_EXCEEDED" not in str(e) and "timed out" not in str(e).lower():
                raise
        time.sleep(0.0)  # let other threads run between polls
