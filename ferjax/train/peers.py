"""Dead peers in a multi-process run: one line and a bounded time instead of a hang.

A process that dies leaves the others blocked in a collective; jax's own heartbeat then aborts
them after heartbeat_timeout_seconds (100 s) with a long native stack dump. Two guards:
- a collective that fails because its peer's connection broke raises at once;
  `stop_on_lost_peer` turns that into one line and exits before jax's shutdown barrier waits
  for the dead peer;
- a collective that stays blocked is caught by a PeerWatchdog thread, which exchanges
  heartbeats through jax.distributed's key-value store and, when a peer has been silent for
  PEER_TIMEOUT_S (30 s; the environment variable FERJAX_PEER_TIMEOUT_S overrides it), prints
  one line naming it and ends this process with status 1.
When process 0 (the coordinator) dies, jax itself terminates the others at once.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from typing import Callable

import jax

PEER_TIMEOUT_S = 30.0  # silence after which a peer counts as dead
HEARTBEAT_EVERY_S = 2.0
PEER_LOST_EXIT_STATUS = 1


def timeout_from_env() -> float:
    """FERJAX_PEER_TIMEOUT_S when set (seconds), else PEER_TIMEOUT_S."""
    value = os.environ.get("FERJAX_PEER_TIMEOUT_S", "")
    try:
        timeout = float(value) if value else PEER_TIMEOUT_S
    except ValueError:
        raise ValueError(f"FERJAX_PEER_TIMEOUT_S={value!r} is not a number of seconds") from None
    if timeout <= 0:
        raise ValueError(f"FERJAX_PEER_TIMEOUT_S={value!r} must be positive")
    return timeout


def _runtime_client():
    # jax.distributed has no public accessor for its client; multihost_utils uses this one.
    from jax._src import distributed as jax_distributed
    return jax_distributed.global_state.client


def _exit_peer_lost(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(PEER_LOST_EXIT_STATUS)  # the main thread is blocked in a collective: no unwinding


# Error texts of collectives and barriers whose peer process is gone (gloo's TCP transport on
# CPU; the coordination service's heartbeat and barrier errors).
LOST_PEER_MARKERS = ("Gloo", "Connection reset by peer", "Connection closed by peer",
                     "heartbeat timeout", "Barrier failed")


def is_lost_peer_error(error: BaseException) -> bool:
    """Whether `error` says a collective lost its peer process."""
    text = str(error)
    return any(marker in text for marker in LOST_PEER_MARKERS)


@contextlib.contextmanager
def stop_on_lost_peer(on_lost: Callable[[str], None] = _exit_peer_lost):
    """In a multi-process run, ends this process with one line when a collective fails because
    a peer is gone (instead of a traceback and a wait for the dead peer at shutdown)."""
    try:
        yield
    except Exception as e:
        if jax.process_count() > 1 and is_lost_peer_error(e):
            first = str(e).strip().splitlines()[0][:160]
            on_lost(f"a collective failed because another process is gone ({type(e).__name__}: "
                    f"{first}); stopping process {jax.process_index()}; rerun every process with "
                    "the same command to resume from the newest checkpoint.")
        raise


class PeerWatchdog(threading.Thread):
    """Heartbeats through the coordination key-value store; calls `on_lost(message)` once a
    peer's counter has not moved for `timeout_s` or the store has failed for `timeout_s`.

    A peer is timed from its first heartbeat on; one whose process ended normally marks itself
    "exited" and is never counted as dead. Detection takes between timeout_s and
    timeout_s + every_s after the peer's last heartbeat.
    """

    PREFIX = "ferjax/alive/"

    def __init__(self, client, process_id: int, num_processes: int, *,
                 timeout_s: float = PEER_TIMEOUT_S, every_s: float = HEARTBEAT_EVERY_S,
                 on_lost: Callable[[str], None] = _exit_peer_lost,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(name="ferjax-peer-watchdog", daemon=True)
        self.client, self.process_id, self.num_processes = client, process_id, num_processes
        self.timeout_s, self.every_s, self.on_lost, self.clock = timeout_s, every_s, on_lost, clock
        self._stopped = threading.Event()
        self._beat = 0
        self._seen = {p: ("", None) for p in range(num_processes) if p != process_id}
        self._last_ok = clock()

    def run(self) -> None:
        while not self._stopped.wait(self.every_s):
            message = self.check()
            if message:
                self.on_lost(message)
                return

    def check(self) -> str:
        """One heartbeat round; returns the error line when a peer is lost, else ""."""
        now = self.clock()
        self._beat += 1
        try:
            self.client.key_value_set(f"{self.PREFIX}{self.process_id}", str(self._beat),
                                      allow_overwrite=True)
            values = dict(self.client.key_value_dir_get(self.PREFIX))
            self._last_ok = now
        except Exception as e:  # the coordinator's store is gone or unreachable
            if now - self._last_ok >= self.timeout_s:
                reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else repr(e)
                return (f"lost contact with the coordinator (process 0) for "
                        f"{now - self._last_ok:.0f} s ({reason}); it died or the network "
                        f"failed. Stopping process {self.process_id}; rerun every process "
                        "with the same command to resume from the newest checkpoint.")
            return ""
        for peer, (last_value, since) in self._seen.items():
            value = values.get(f"{self.PREFIX}{peer}", "")
            if value != last_value:
                self._seen[peer] = (value, now)
        # A peer is timed from its first heartbeat on: a peer still starting up is jax's
        # initialization_timeout's business.
        silent = [p for p, (v, since) in self._seen.items()
                  if since is not None and v != "exited" and now - since >= self.timeout_s]
        if silent:
            return (f"process {', '.join(map(str, silent))} of {self.num_processes} sent no "
                    f"heartbeat for {self.timeout_s:.0f} s; it died or hangs (see its log). "
                    f"Stopping process {self.process_id}; rerun every process with the same "
                    "command to resume from the newest checkpoint.")
        return ""

    def mark_exited(self) -> None:
        """Tells the peers this process ended on purpose, then stops heartbeating."""
        self._stopped.set()
        try:
            self.client.key_value_set(f"{self.PREFIX}{self.process_id}", "exited",
                                      allow_overwrite=True)
        except Exception:  # the coordinator may already be gone at exit
            pass


def start_watchdog(timeout_s: float = PEER_TIMEOUT_S) -> PeerWatchdog:
    """Starts the watchdog of this process (see PeerWatchdog); it marks itself exited at exit."""
    watchdog = PeerWatchdog(_runtime_client(), jax.process_index(), jax.process_count(),
                            timeout_s=timeout_s)
    atexit.register(watchdog.mark_exited)  # runs before jax.distributed's own shutdown hook
    watchdog.start()
    return watchdog
