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


def write_json(path: str | Path, obj: Any) -> Path:
    """Writes obj as indented strict JSON (see module docstring), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json_text(obj))
    tmp.replace(path)
    return path
