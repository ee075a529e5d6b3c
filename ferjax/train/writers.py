"""Metric writers: JSON lines and TensorBoard event files (tensorboardX, no TensorFlow).

Only process 0 writes; other processes get a writer that does nothing, so callers need no
process checks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping


class MetricWriter:
    """Appends {"step": s, "split": ..., **scalars} lines to metrics.jsonl and TensorBoard."""

    def __init__(self, workdir: str | Path, enabled: bool = True):
        self.enabled = enabled
        self._tb = None
        if enabled:
            self.path = Path(workdir) / "metrics.jsonl"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            from tensorboardX import SummaryWriter
            self._tb = SummaryWriter(str(Path(workdir) / "tensorboard"))

    def write(self, step: int, split: str, scalars: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        clean = {k: float(v) for k, v in scalars.items()}
        with self.path.open("a") as f:
            f.write(json.dumps({"step": int(step), "split": split, **clean}) + "\n")
        for k, v in clean.items():
            if math.isfinite(v):
                self._tb.add_scalar(f"{split}/{k}", v, int(step))
        self._tb.flush()

    def truncate_after(self, step: int) -> None:
        """Drops lines logged after `step`: a resumed run re-logs them from its checkpoint."""
        if not self.enabled or not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(workdir: str | Path) -> list[dict]:
    """All lines of workdir/metrics.jsonl (empty list when absent)."""
    path = Path(workdir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
