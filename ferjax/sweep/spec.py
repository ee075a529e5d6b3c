"""Building blocks config files use to declare sweeps (pure, no JAX).

A sweep is a list of points; a point is a dict of overrides applied to the config:
- "seed", "train.num_steps", ...: config fields (dotted paths), passed as --config.<path>=value;
- ":name": a config-file argument (the text after ':'), e.g. ":variant" -> "variant=symmetric";
- "config": another config file, "configs/x.py" or "configs/x.py:arg" (its arg goes before the
  sweep's own ":name" overrides), for sweeps that compare experiments of several files.

    def get_sweep(arg=None):
        return product(axis(":variant", ["free", "symmetric"]), seeds(3))
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Sequence

Point = dict[str, Any]

SEED = "seed"
CONFIG = "config"


def axis(name: str, values: Iterable[Any]) -> list[Point]:
    """One swept field: [{name: v} for v in values]."""
    values = list(values)
    if not values:
        raise ValueError(f"sweep axis {name!r} has no values")
    return [{name: v} for v in values]


def seeds(n: int, start: int = 0) -> list[Point]:
    """The seed axis: config.seed = start .. start + n - 1 (model init and data order)."""
    if n < 1:
        raise ValueError(f"seeds(n={n}): need at least one seed")
    return axis(SEED, range(start, start + n))


def product(*axes: Sequence[Point]) -> list[Point]:
    """Every combination of the axes' points, the last axis varying fastest."""
    points = []
    for combo in itertools.product(*axes):
        points.append(_merge(combo))
    return points


def zipped(*axes: Sequence[Point]) -> list[Point]:
    """The i-th points of all axes together; the axes must have equal lengths."""
    lengths = {len(a) for a in axes}
    if len(lengths) > 1:
        raise ValueError(f"zipped axes have different lengths {sorted(lengths)}")
    return [_merge(combo) for combo in zip(*axes)]


def _merge(points: Iterable[Point]) -> Point:
    merged: Point = {}
    for p in points:
        clash = set(merged) & set(p)
        if clash:
            raise ValueError(f"sweep field(s) {sorted(clash)} set by two combined axes")
        merged.update(p)
    return merged
