"""How training steps reach the devices: several steps per call, metrics kept on the device.

One jitted call runs `config.train.steps_per_call` optimiser steps (a `lax.scan` over a stacked
(k, B, ...) batch), so a small model is not bound by the cost of launching each step. The
per-step metrics come back as device arrays and stay there (MetricBuffer) until the loop
fetches them at a log, evaluation or checkpoint point: between those points nothing waits for
the device.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

INTERVAL_FIELDS = ("log_every", "eval_every", "checkpoint_every")


def steps_per_call(train_cfg) -> int:
    """config.train.steps_per_call (default 1), checked against the loop's intervals.

    Log, evaluation and checkpoint points fall between calls, so each positive interval must be
    a multiple of it; raises ValueError naming the field otherwise.
    """
    k = int(train_cfg.get("steps_per_call", 1))
    if k < 1:
        raise ValueError(f"config.train.steps_per_call={k} must be at least 1")
    for field in INTERVAL_FIELDS:
        every = int(train_cfg.get(field, 0))
        if every > 0 and every % k:
            raise ValueError(f"config.train.{field}={every} must be a multiple of "
                             f"config.train.steps_per_call={k}")
    return k


def next_stop(step: int, num_steps: int, intervals: Sequence[int]) -> int:
    """The first step after `step` that is a multiple of a positive interval, or num_steps."""
    stops = [(step // n + 1) * n for n in intervals if n > 0]
    return min([num_steps, *stops])


def call_sizes(start: int, stop: int, k: int) -> list[int]:
    """Steps per call from `start` to `stop`: k-step calls, then single steps for a remainder.

    A remainder (num_steps or a resumed step that is not a multiple of k) runs one step per call
    rather than compiling a scan of another length.
    """
    full, rest = divmod(stop - start, k)
    return [k] * full + [1] * rest


def scan_steps(step_fn: Callable, k: int, stacked: bool = True,
               unroll: bool | int = 1) -> Callable:
    """(state, feed, rng) -> (state, metrics) running step_fn k times.

    stacked: feed's leaves are (k, B, ...) and step i gets feed[i]; otherwise every step gets
    the whole feed (device-resident input, from which a step draws its own batch).
    The returned metrics' leaves gain a leading (k,) axis.
    unroll: lax.scan's; True repeats the step k times in the program instead of looping.
    """
    def run(state, feed, rng):
        if stacked:
            return jax.lax.scan(lambda s, batch: step_fn(s, batch, rng), state, feed,
                                unroll=unroll)
        return jax.lax.scan(lambda s, _: step_fn(s, feed, rng), state, None, length=k,
                            unroll=unroll)

    return run


def device_input_step(step_fn: Callable, data_key: jax.Array, batch_size: int) -> Callable:
    """(state, resident, rng) step that draws its global batch on the device.

    The batch of a step is ferjax.data.device_input.train_batch at the state's step number,
    so a run resumed from a checkpoint continues with exactly the batches it would have had.
    """
    from ferjax.data import device_input

    def step(state, resident, rng):
        batch = device_input.train_batch(resident, data_key, state.step, batch_size=batch_size)
        return step_fn(state, batch, rng)

    return step


def unroll_for(platform: str) -> bool:
    """Whether a multi-step call unrolls its scan on this platform.

    XLA:CPU runs a convolutional step inside a loop about 10× slower than the same step
    called alone (Sun attention at 32×32, batch 16: 1.45 s against 0.12 s per step), so on
    CPU the k steps are unrolled (a k-times longer compilation); GPU and TPU keep the loop.
    """
    return platform == "cpu"


def stacked_sharding(mesh) -> NamedSharding:
    """(k, B, ...) arrays: the batch axis (second) split over the data axis."""
    return NamedSharding(mesh, P(None, "data"))


def stacked_global_batch(mesh, locals_: Sequence[dict[str, np.ndarray]]) -> dict[str, jax.Array]:
    """k local numpy batches -> one global (k, B, ...) batch sharded over the batch axis."""
    sharding = stacked_sharding(mesh)
    return {key: jax.make_array_from_process_local_data(
                sharding, np.stack([np.asarray(b[key]) for b in locals_]))
            for key in locals_[0]}


class StepCaller:
    """Runs n ∈ {1, k} training steps per call, each call jitted (and compiled) once.

    step_fn: (state, feed, rng) -> (state, metrics of scalars). The state is donated.
    stacked: whether a k-step call's feed is k stacked batches (host input) or one feed for
    all steps (device-resident input).
    """

    def __init__(self, step_fn: Callable, out_sharding, k: int, stacked: bool = True):
        self.k = k
        self.single = jax.jit(step_fn, donate_argnums=0, out_shardings=(out_sharding,) * 2)
        unroll = unroll_for(jax.default_backend())
        self.multi = (jax.jit(scan_steps(step_fn, k, stacked, unroll), donate_argnums=0,
                              out_shardings=(out_sharding,) * 2) if k > 1 else None)

    def __call__(self, state, feed, rng, n: int):
        """n == 1: a batch of (B, ...) leaves; n == k: stacked (k, B, ...) leaves (or, either
        way, the device-resident input)."""
        if n == 1:
            return self.single(state, feed, rng)
        if n != self.k:
            raise ValueError(f"a call runs 1 or {self.k} steps, not {n}")
        return self.multi(state, feed, rng)


class MetricBuffer:
    """Step metrics as device arrays until fetched, at the loop's log/eval/checkpoint points."""

    def __init__(self):
        self._calls: list[tuple[int, int, dict]] = []

    def add(self, first_step: int, n: int, metrics: dict) -> None:
        """Metrics of steps first_step .. first_step+n-1 (scalars for n == 1, else (n,))."""
        self._calls.append((first_step, n, metrics))

    def __bool__(self) -> bool:
        return bool(self._calls)

    def fetch(self) -> list[tuple[int, dict[str, float]]]:
        """[(step index, {name: value})] for every buffered step, in order; empties the buffer.

        One transfer for all of them (jax.device_get of the whole list).
        """
        fetched = jax.device_get([m for _, _, m in self._calls])
        rows = []
        for (first, n, _), metrics in zip(self._calls, fetched):
            columns = {k: np.reshape(v, (n,)) for k, v in metrics.items()}
            rows += [(first + i, {k: float(v[i]) for k, v in columns.items()}) for i in range(n)]
        self._calls.clear()
        return rows
