"""Checkpoints that survive preemption: model state and the input iterator, saved together.

orbax's CheckpointManager saves every `every` steps and when a preemption signal (SIGTERM on
a managed cluster or locally) is noticed; saves are atomic (written to a temporary directory,
then renamed), so a crash mid-save never damages the last good checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import grain
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as cm


def make_manager(workdir: str | Path, every: int, max_to_keep: int = 3) -> ocp.CheckpointManager:
    policy = cm.AnySavePolicy([cm.FixedIntervalPolicy(max(1, every)),
                               cm.PreemptionCheckpointingPolicy()])
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, save_decision_policy=policy,
                                           create=True)
    return ocp.CheckpointManager(Path(workdir).resolve() / "checkpoints", options=options)


def save(manager: ocp.CheckpointManager, step: int, state, iterator, *, force: bool = False) -> bool:
    """Saves (state, iterator) at `step` if the policy says so (always when `force`)."""
    return manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(iterator)),
        force=force)


def restore_latest(manager: ocp.CheckpointManager, state, iterator):
    """Restores the newest checkpoint into (state-like pytree, iterator); returns (state, step).

    Returns (state, 0) untouched when the workdir has no checkpoint.
    """
    step = manager.latest_step()
    if step is None:
        return state, 0
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(state), data=grain.checkpoint.CheckpointRestore(iterator)))
    return restored.state, int(step)


def restore_variables(workdir: str | Path) -> dict:
    """{"params", "batch_stats"} of the newest checkpoint of another run's workdir.

    Only the model's variables: the optimiser state, step and input iterator of that run are not
    read, so a run with another optimiser (a later stage of stage-wise training) can start from
    them. Raises FileNotFoundError naming the directory when it has no checkpoint.
    """
    directory = Path(workdir).resolve() / "checkpoints"
    manager = ocp.CheckpointManager(directory)
    step = manager.latest_step()
    if step is None:
        raise FileNotFoundError(f"config.train.init_from: no checkpoint in {directory}")
    restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
    manager.close()
    return {"params": restored.state["params"],
            "batch_stats": restored.state.get("batch_stats", {}) or {}}
