"""Writing run outputs: strict JSON files that a reader never sees half written.

Strict means what RFC 8259 allows: no bare NaN or Infinity. A non-finite float (an undefined
metric, a diverged loss) is written as null, which every JSON reader understands as "no
value"; `json_text` then serialises with allow_nan=False, so nothing non-finite can slip
through another route.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def strict_value(obj: Any) -> Any:
    """obj with numpy arrays/scalars as lists/numbers, tuples as lists, and every NaN or
    ±Infinity float replaced by None; other unknown objects become their str()."""
    if isinstance(obj, dict):
        return {k if k is None or isinstance(k, (str, int, float, bool)) else str(k):
                strict_value(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_value(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return strict_value(obj.tolist())
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def json_text(obj: Any, indent: int | None = 2, **kwargs) -> str:
    """Strict JSON text of obj (see strict_value); json.dumps keyword arguments pass through."""
    return json.dumps(strict_value(obj), indent=indent, allow_nan=False, **kwargs)


class ResultWriteError(OSError):
    """A result file could not be written (disk full, no permission); the previous version of
    the file, if any, is intact."""


def write_json(path: str | Path, obj: Any) -> Path:
    """Writes obj as indented strict JSON (see module docstring), atomically."""
    return write_text(path, json_text(obj))


def write_text(path: str | Path, text: str) -> Path:
    """Writes text to path atomically: into path.tmp, then renamed over path, so a reader
    sees the old file or the new one, never half of one. A failed write (disk full) removes
    its temporary file and raises ResultWriteError naming path; the old file stays as it was."""
    return _atomically(Path(path), lambda tmp: tmp.write_text(text))


def save_figure(figure, path: str | Path, **savefig_kwargs) -> Path:
    """figure.savefig(path, ...) atomically (as write_text); the format is path's suffix."""
    path = Path(path)
    fmt = savefig_kwargs.pop("format", path.suffix[1:] or None)
    return _atomically(path, lambda tmp: figure.savefig(tmp, format=fmt, **savefig_kwargs))


def _atomically(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        kept = "the previous file is intact" if path.exists() else "nothing was written"
        # The OSError that caused it is kept as __cause__ (errno, filename).
        raise ResultWriteError(f"could not write {path} ({e.strerror or e}); {kept}") from e
    return path
