"""Scripted validation scores for selection tests: real evaluations, chosen metric values."""

import contextlib

import pytest

from ferjax.train import loop


@contextlib.contextmanager
def scripted_validation(metric: str, values):
    """Runs the real evaluations, but each validation evaluation reports the next of `values`
    as `metric` (test evaluations are untouched)."""
    real, script = loop.evaluate, iter(values)

    def evaluate(state, data, eval_fn, mesh, batch_size, source=None, tta_mode="none"):
        result = real(state, data, eval_fn, mesh, batch_size, source=source, tta_mode=tta_mode)
        if source is not None:
            result[metric] = next(script)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "evaluate", evaluate)
        yield
