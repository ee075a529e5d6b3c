"""Metric writers: JSON lines and TensorBoard event files (tensorboardX, no TensorFlow).

Only process 0 writes; other processes get a writer that does nothing, so callers need no
process checks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

from absl import logging

from ferjax.files import json_text, write_text


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
            f.write(json_text({"step": int(step), "split": split, **clean}, indent=None) + "\n")
        for k, v in clean.items():
            if math.isfinite(v):
                self._tb.add_scalar(f"{split}/{k}", v, int(step))
        self._tb.flush()

    def truncate_after(self, step: int) -> None:
        """Drops lines logged after `step`: a resumed run re-logs them from its checkpoint.

        A partial last line (the process was killed mid-write) is dropped with a warning.
        """
        if not self.enabled or not self.path.exists():
            return
        self._rewrite(lambda line: line["step"] <= step)

    def drop(self, step: int, split: str) -> None:
        """Drops the lines of `split` logged at `step` (they are about to be written again)."""
        if not self.enabled or not self.path.exists():
            return
        self._rewrite(lambda line: not (line["step"] == step and line["split"] == split))

    def _rewrite(self, keep) -> None:
        kept = [line for line in parse_lines(self.path) if keep(line)]
        write_text(self.path, "".join(json_text(line, indent=None) + "\n" for line in kept))

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(workdir: str | Path) -> list[dict]:
    """All lines of workdir/metrics.jsonl (empty list when absent)."""
    path = Path(workdir) / "metrics.jsonl"
    if not path.exists():
        return []
    return parse_lines(path)


def parse_lines(path: Path) -> list[dict]:
    """The JSON lines of `path`; a partial last line (a kill mid-write) is dropped with a
    warning; an unreadable line before it raises ValueError naming the file and line."""
    lines = [(n, text) for n, text in enumerate(path.read_text().split("\n"), 1) if text.strip()]
    parsed = []
    for i, (n, text) in enumerate(lines):
        try:
            parsed.append(json.loads(text))
        except json.JSONDecodeError as e:
            if i < len(lines) - 1:
                raise ValueError(f"{path}: line {n} is not JSON ({e}); only a last, partial line "
                                 "is dropped automatically") from e
            logging.warning("%s: dropped a partial last line (%d characters; the run was "
                            "interrupted while writing it)", path, len(text))
    return parsed
