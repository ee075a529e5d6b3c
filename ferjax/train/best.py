"""The best checkpoint of a training run that selects on a validation split.

Holds the criterion (config.train.select), the selection state and workdir/checkpoints_best/
(one step: the best evaluation's model state). The trainer calls `observe` at each validation
evaluation; a new best is saved after the trainer saved a regular checkpoint at that step
carrying the new selection state, so after any interruption the regular checkpoint a run
resumes from and checkpoints_best/ agree (`resume` repairs the one gap, a stop between those
two saves).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ferjax.train import checkpoint, selection


class BestCheckpoint:
    """Selection during one training run (process-collective like the checkpoint manager)."""

    def __init__(self, workdir: str | Path, criterion: selection.Criterion,
                 state: selection.SelectionState | None = None):
        self.criterion = criterion
        self.state = state or selection.SelectionState()
        self.manager = checkpoint.make_best_manager(workdir)

    @property
    def stop(self) -> bool:
        """Early stopping reached (config.train.select.patience evaluations without a gain)."""
        return selection.should_stop(self.state, self.criterion)

    def to_json(self) -> dict:
        return self.state.to_json()

    def resume(self, regular_manager, start_step: int, train_state,
               report: Callable[[str], None] = print) -> None:
        """Takes the selection state saved with the regular checkpoint at start_step (none
        before step 1) and makes checkpoints_best/ agree with it."""
        saved = checkpoint.selection_at(regular_manager, start_step) if start_step else None
        self.state = selection.SelectionState.from_json(saved)
        best = self.state.best_step
        steps = list(self.manager.all_steps())
        if best is not None and best not in steps and best == start_step:
            # Stopped between the regular save of a new best and its copy: the state just
            # restored is that best.
            checkpoint.save_best(self.manager, best, train_state)
            return
        if best is not None and best not in steps:
            report(f"the best checkpoint (step {best}) is missing from {self.manager.directory}; "
                   "selection continues from the next evaluation")
            self.state = self.state.without_best()
        for step in steps:
            if step != self.state.best_step:
                self.manager.delete(step)

    def observe(self, step: int, result: dict) -> bool:
        """Records a validation evaluation; True when it is the new best (save it then)."""
        self.state, improved = selection.observe(self.state, self.criterion, step, result)
        return improved

    def save(self, step: int, train_state) -> None:
        checkpoint.save_best(self.manager, step, train_state)

    def best_state(self, target):
        """The best checkpoint's model state, read into target's shardings."""
        return checkpoint.restore_state(self.manager, self.state.best_step, target)

    def close(self) -> None:
        self.manager.close()
