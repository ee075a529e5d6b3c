"""Shared by the embedding and attention-image evaluators: a restored model's outputs."""

from __future__ import annotations

import numpy as np

from ferjax.data import pipeline, sources
from ferjax.evaluation.outputs import collect_outputs


def limited(source, max_examples: int):
    """The first max_examples records of source (all when max_examples ≤ 0)."""
    if max_examples <= 0 or len(source) <= max_examples:
        return source
    return sources.SubsetSource(source, np.arange(max_examples))


def outputs(restored, source, keys, batch_size: int = 64, perturb=None) -> dict:
    """The restored model's `keys` outputs (and label, mask) over `source`, eval transform."""
    data = restored.data
    return collect_outputs(restored.apply, source, pipeline.EvalTransform(data.spec, data.norm),
                           keys, batch_size=batch_size, perturb=perturb)
