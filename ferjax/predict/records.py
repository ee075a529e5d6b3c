"""predictions.jsonl + predictions.csv, written incrementally and resumable.

Each row is one face of one frame (a still image is frame None), or one row per frame with a
`reason` when nothing was classified there (unreadable input, no face). Rows are appended and
flushed as each input is done, so an interrupt loses nothing already written; a rerun reads
the (source, frame) keys already in predictions.jsonl and skips them. A line cut short by an
interrupt is dropped from both files on reopening.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterable, Sequence

JSONL = "predictions.jsonl"
CSV = "predictions.csv"
# Leading CSV columns; then p_<class> per class and the reason.
_COLUMNS = ("source", "frame", "time_s", "face", "x0", "y0", "x1", "y1", "score", "label")


def _drop_partial_line(path: Path) -> None:
    """Truncates `path` after its last newline (an interrupted write's half line)."""
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with path.open("r+b") as f:
            f.truncate(end)


def done_keys(path: Path) -> set[tuple[str, int | None]]:
    """(source, frame) of every row of a predictions.jsonl (empty when there is none)."""
    if not path.exists():
        return set()
    keys = set()
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        keys.add((row["source"], row.get("frame")))
    return keys


def csv_row(row: dict, class_names: Sequence[str]) -> list:
    """A JSON row -> its CSV cells (_COLUMNS, p_<class>..., reason)."""
    box = row.get("box") or [None] * 4
    probs = row.get("probabilities") or {}
    cells = [row["source"], row.get("frame"), row.get("time_s"), row.get("face"), *box,
             row.get("score"), row.get("label")]
    cells += [probs.get(c) for c in class_names] + [row.get("reason")]
    return ["" if v is None else v for v in cells]


class PredictionWriter:
    """Appends rows to out/predictions.jsonl and out/predictions.csv (header once)."""

    def __init__(self, out: str | Path, class_names: Sequence[str]):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.class_names = tuple(class_names)
        jsonl, table = self.out / JSONL, self.out / CSV
        for path in (jsonl, table):
            _drop_partial_line(path)
        self.done = done_keys(jsonl)
        new_table = not table.exists() or not table.stat().st_size
        self._jsonl = jsonl.open("a")
        self._csv_file = table.open("a", newline="")
        self._csv = csv.writer(self._csv_file)
        if new_table:
            self._csv.writerow([*_COLUMNS, *(f"p_{c}" for c in self.class_names), "reason"])
            self._csv_file.flush()

    def write(self, rows: Iterable[dict]) -> None:
        """Appends rows (JSON-ready dicts) to both files and flushes them."""
        for row in rows:
            self._jsonl.write(json.dumps(row) + "\n")
            self._csv.writerow(csv_row(row, self.class_names))
            self.done.add((row["source"], row.get("frame")))
        self._jsonl.flush()
        self._csv_file.flush()

    def close(self) -> None:
        self._jsonl.close()
        self._csv_file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
