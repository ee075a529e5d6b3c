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
