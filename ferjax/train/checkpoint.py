"""Checkpoints that survive preemption: model state and the input iterator, saved together.

orbax's CheckpointManager saves every `every` steps and when a preemption signal (SIGTERM on
a managed cluster or locally) is noticed; saves are atomic (written to a temporary directory,
then renamed), so a crash mid-save never damages the last good checkpoint. A checkpoint
damaged afterwards (a truncated array file, garbage metadata, an emptied step folder) is moved
to checkpoints_damaged/ and the newest intact one is restored instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from orbax.checkpoint import checkpoint_managers as cm

from ferjax.train import host_local

DAMAGED_DIR = "checkpoints_damaged"


class CheckpointRestoreError(RuntimeError):
    """No checkpoint of the workdir could be restored into the current model's state."""


def make_manager(workdir: str | Path, every: int, max_to_keep: int = 3) -> ocp.CheckpointManager:
    host_local.check_collective_allowed("creating a CheckpointManager (an orbax barrier)")
    policy = cm.AnySavePolicy([cm.FixedIntervalPolicy(max(1, every)),
                               cm.PreemptionCheckpointingPolicy()])
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, save_decision_policy=policy,
                                           create=True)
    return ocp.CheckpointManager(Path(workdir).resolve() / "checkpoints", options=options)


def save(manager: ocp.CheckpointManager, step: int, state, iterator, *, force: bool = False,
         selection: dict | None = None) -> bool:
    """Saves (state, iterator) at `step` if the policy says so (always when `force`).

    iterator None (device-resident input, whose batches follow from the step): state alone.
    selection: model selection's state (ferjax.train.selection.SelectionState.to_json()),
    stored in the step's metadata so that a resumed run keeps its best-so-far."""
    items = {"state": ocp.args.StandardSave(state)}
    if iterator is not None:
        items["data"] = grain.checkpoint.CheckpointSave(iterator)
    return manager.save(step, args=ocp.args.Composite(**items), force=force,
                        custom_metadata=None if selection is None else {"selection": selection})


def selection_at(manager: ocp.CheckpointManager, step: int) -> dict | None:
    """The selection state saved with the checkpoint at `step` (None: none was saved)."""
    metadata = manager.metadata(step)
    custom = getattr(metadata, "custom_metadata", None) or {}
    return custom.get("selection")


# The best checkpoint by the selection metric: its own directory, one step, model state only.
BEST_DIR = "checkpoints_best"


def make_best_manager(workdir: str | Path) -> ocp.CheckpointManager:
    """A manager of workdir/checkpoints_best keeping only the checkpoint saved last."""
    host_local.check_collective_allowed("creating a CheckpointManager (an orbax barrier)")
    # Its own barrier names: saved at the same step as the regular checkpoint, the two
    # managers' asynchronous-commit barriers ("_async_write_complete.<step>") would collide
    # across processes, and a multi-process selecting run would stop at its first best.
    options = ocp.CheckpointManagerOptions(
        max_to_keep=1, create=True,
        multiprocessing_options=ocp.options.MultiprocessingOptions(
            barrier_sync_key_prefix="best"))
    return ocp.CheckpointManager(Path(workdir).resolve() / BEST_DIR, options=options)


def save_best(manager: ocp.CheckpointManager, step: int, state) -> None:
    """Saves `state` as the best checkpoint (replacing the previous one) and waits for it."""
    manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state)), force=True)
    manager.wait_until_finished()


def restore_state(manager: ocp.CheckpointManager, step: int, state):
    """The model state saved at `step`, read into the shardings of `state` (the target)."""
    return manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state(state)))).state


def abstract_state(state):
    """Shape, dtype and sharding of every array leaf: a restore target that reads each array
    straight into its final sharding (no host copy moved across processes afterwards)."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding)
                        if isinstance(x, jax.Array) else x, state)


def restore_latest(manager: ocp.CheckpointManager, state, iterator, *,
                   report: Callable[[str], None] = print):
    """Restores the newest intact checkpoint into (state, iterator); returns (state, step).

    `state` is the target: its arrays' shardings are the shardings restored into. Returns
    (state, 0) untouched when the workdir has no checkpoint. A checkpoint that fails to restore
    while an older one restores is damaged: process 0 moves it to workdir/checkpoints_damaged/
    (never deletes it) and `report` gets one line naming it and why. When none restores, raises
    CheckpointRestoreError listing each step's error and moves nothing (the model may have
    changed, not the files).
    """
    failures: list[tuple[int, str]] = []
    target = abstract_state(state)
    for step in sorted(manager.all_steps(), reverse=True):
        restored, error = _try_restore(manager, step, target, iterator)
        if _all_processes_ok(error is None):
            if failures:
                _set_aside(manager, failures, step, report)
            return restored.state, int(step)
        failures.append((step, error or "failed in another process"))
    if failures:
        listing = "; ".join(f"step {s}: {why}" for s, why in failures)
        raise CheckpointRestoreError(
            f"no checkpoint in {manager.directory} could be restored ({listing}). Nothing was "
            "moved; if the model or data changed, use a new --workdir.")
    return state, 0


def _try_restore(manager, step: int, target, iterator):
    try:
        items = {"state": ocp.args.StandardRestore(target)}
        if iterator is not None:
            items["data"] = grain.checkpoint.CheckpointRestore(iterator)
        return manager.restore(step, args=ocp.args.Composite(**items)), None
    except Exception as e:  # tensorstore raises bare Exception for unreadable array files
        return None, f"{type(e).__name__}: {_first_line(e)}"


def _first_line(error: Exception, limit: int = 160) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _all_processes_ok(ok: bool) -> bool:
    if jax.process_count() == 1:
        return ok
    host_local.check_collective_allowed("restoring the newest checkpoint (restore_latest)")
    return bool(np.all(multihost_utils.process_allgather(np.array([ok]))))


def _set_aside(manager, failures: list[tuple[int, str]], restored_step: int, report) -> None:
    directory = Path(manager.directory)
    aside = directory.parent / DAMAGED_DIR
    if jax.process_index() == 0:
        for step, why in failures:
            destination = _free_name(aside / str(step))
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(directory / str(step)), str(destination))
            report(f"checkpoint at step {step} is damaged ({why}); moved to {destination}; "
                   f"resuming from step {restored_step}")
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices("ferjax:damaged_checkpoints_moved")
    manager.reload()


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        candidate, n = path.with_name(f"{path.name}.{n}"), n + 1
    return candidate


# "selected": the model a run reports (results.json's top level): its best checkpoint when it
# selected on a validation split, else its last. "best" exists only for a selecting run.
CHECKPOINTS = ("selected", "last", "best")


def has_best(workdir: str | Path) -> bool:
    """Whether the run in workdir saved a best checkpoint (it selected on a validation split)."""
    return latest_finished_step(Path(workdir).resolve() / BEST_DIR) is not None


def latest_finished_step(directory: Path) -> int | None:
    """The newest step folder of an orbax checkpoint directory that was written completely
    (orbax writes a step under a temporary name and renames it when done), or None.

    Read from the file listing, not with a CheckpointManager: creating one is a barrier over
    all processes, and this is called inside host-local sections (ferjax.train.host_local).
    """
    if not directory.is_dir():
        return None
    steps = [int(p.name) for p in directory.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(steps, default=None)


def _single_process_checkpointer() -> ocp.Checkpointer:
    # Only this process takes part: no barrier waits for processes that are not reading.
    here = jax.process_index()
    options = ocp.options.MultiprocessingOptions(primary_host=here, active_processes={here})
    return ocp.Checkpointer(ocp.PyTreeCheckpointHandler(multiprocessing_options=options),
                            multiprocessing_options=options)


def restore_variables(workdir: str | Path, which: str = "selected") -> dict:
    """{"params", "batch_stats"} of one of a run's checkpoints (CHECKPOINTS): "selected"
    (default; what config.train.init_from starts from), "last" (the newest) or "best" (by
    the run's selection metric, workdir/checkpoints_best); their EMA when the run kept one
    (the weights it was evaluated with).

    Only the model's variables: the optimiser state, step and input iterator of that run are not
    read, so a run with another optimiser (a later stage of stage-wise training) can start from
    them. Raises FileNotFoundError naming the directory when it has no checkpoint.
    """
    if which not in CHECKPOINTS:
        raise ValueError(f"checkpoint {which!r}: expected one of {CHECKPOINTS}")
    if which == "selected":
        which = "best" if has_best(workdir) else "last"
    directory = Path(workdir).resolve() / ("checkpoints" if which == "last" else BEST_DIR)
    if which == "best" and not directory.is_dir():
        raise FileNotFoundError(f"no {BEST_DIR}/ in {Path(workdir)}: the run selected no model "
                                "(config.data.validation_split / validation_fraction unset)")
    step = latest_finished_step(directory)
    if step is None:
        raise FileNotFoundError(f"config.train.init_from: no checkpoint in {directory}")
    # Read as host numpy arrays: the saved shardings name the devices of the run that wrote
    # them (8 GPUs, say), which a restore on other devices (one CPU) cannot recreate. Each
    # process reads on its own (no barrier), so evaluators may call this on process 0 alone.
    path = directory / str(step) / "state"
    checkpointer = _single_process_checkpointer()
    tree = checkpointer.metadata(path).item_metadata.tree
    as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
    state = checkpointer.restore(path, args=ocp.args.PyTreeRestore(restore_args=as_numpy))
    if state.get("ema"):  # a run with an EMA of its weights is evaluated on the EMA
        return {"params": state["ema"]["params"],
                "batch_stats": state["ema"].get("batch_stats", {}) or {}}
    return {"params": state["params"], "batch_stats": state.get("batch_stats", {}) or {}}
