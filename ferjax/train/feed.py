"""Where the training batches come from: the devices themselves, or the host pipeline.

config.data.placement (ferjax.data.device_input.choose_placement) decides. On the device path
the decoded split is resident on the devices and each step draws and augments its own batch
inside jit from its step number: no host input at all, and the step number alone resumes the
stream. On the host path grain (with config.data.workers processes) yields this process's rows
of each batch, which are put on the devices explicitly; its iterator state is checkpointed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

import jax

from ferjax import files
from ferjax.data import device_input, pipeline
from ferjax.train import checkpoint, dispatch, distributed

# Folded into the run's seed for the device path's data key, so that the data stream and the
# step's own randomness (dropout, loss sampling) are independent.
_DATA_STREAM = 0x0DA7A


@dataclasses.dataclass
class TrainInput:
    """The training input of one run: `placement` "device" (resident) or "host" (iterator)."""

    placement: str
    mesh: jax.sharding.Mesh
    iterator: Any = None      # host: the grain iterator (checkpointed with the state)
    resident: Any = None      # device: ferjax.data.device_input.Resident

    @property
    def on_device(self) -> bool:
        return self.placement == "device"

    def step_fn(self, step_fn: Callable, seed: int, batch_size: int) -> Callable:
        """step_fn(state, batch, rng) as the (state, feed, rng) step the dispatcher calls."""
        if not self.on_device:
            return step_fn
        key = jax.random.fold_in(jax.random.key(seed), _DATA_STREAM)
        return dispatch.device_input_step(step_fn, key, batch_size)

    def next(self, n: int):
        """The feed of a call of n steps: the resident input, or the next n host batches
        (stacked to (n, B, ...) when n > 1) as global arrays."""
        if self.on_device:
            return self.resident
        if n == 1:
            return distributed.global_batch(self.mesh, next(self.iterator))
        return dispatch.stacked_global_batch(self.mesh, [next(self.iterator) for _ in range(n)])

    def close(self) -> None:
        """Stops the host pipeline's worker processes, if any."""
        close = getattr(self.iterator, "close", None)
        if close is not None:
            close()


# Per process: the number of input worker processes its checkpointed iterator state was made
# with (grain's state layout differs with the worker count, the batches do not).
WORKERS_DIR = "input_workers"


def input_workers(config, workdir: str | Path | None) -> int:
    """The worker count of this process's training iterator.

    config.data.workers (resolved for this machine) on a fresh start; on a resume, the count
    the checkpoints were saved with, so that a changed config.data.workers or a requeue on a
    node with another CPU allocation still restores the iterator (the batches are the same for
    every count). Records the count used in workdir/input_workers/process_<i>.json.
    """
    wanted = pipeline.resolve_workers(config.data.get("workers", -1))
    if workdir is None:
        return wanted
    record = Path(workdir) / WORKERS_DIR / f"process_{jax.process_index()}.json"
    resuming = checkpoint.latest_finished_step(Path(workdir) / "checkpoints") is not None
    if resuming and record.exists():
        saved = int(json.loads(record.read_text())["workers"])
        if saved != wanted:
            print(f"input: resuming with the {saved} input worker(s) the checkpoint was saved "
                  f"with (config.data.workers now gives {wanted})", flush=True)
        return saved
    files.write_text(record, json.dumps({"workers": wanted}))
    return wanted


def make_train_input(config, data: pipeline.Data, mesh, local_batch: int,
                     workdir: str | Path | None = None) -> TrainInput:
    """The run's TrainInput, placed per config.data.placement (workdir: see input_workers)."""
    placement = device_input.choose_placement(data, config.data)
    if placement == "device":
        return TrainInput("device", mesh,
                          resident=device_input.place(data, config.data.augment, mesh))
    iterator = iter(pipeline.train_dataset(
        data.train, pipeline.TrainTransform(data.spec, data.norm, **dict(config.data.augment)),
        seed=config.seed, local_batch_size=local_batch, process_index=jax.process_index(),
        process_count=jax.process_count(),
        workers=input_workers(config, workdir)))
    return TrainInput("host", mesh, iterator=iterator)
