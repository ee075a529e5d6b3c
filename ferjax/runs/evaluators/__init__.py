"""Evaluators: the analyses a config declares, run on a trained model after training.

`config.evals = {name: {"type": <evaluator>, **options}}` (as big_vision's evaluators): each
entry runs `evaluate(trained, out_dir, **options)` of the evaluator module its type names, in
name order (a ConfigDict sorts its keys), and writes its own files into out_dir (the run's workdir; a fold's or a
phase's directory). `trained` is a ferjax.train.loop.TrainedModel; evaluators that need the
model restore it with ferjax.runs.restore.restore_model. A new evaluator is one module here
with an `evaluate` function and one line in _REGISTRY; a config uses it with one line in
config.evals.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Callable, Sequence

from ferjax.runs.restore import RestoredModel, restore_model
from ferjax.train import host_local

# type -> module under ferjax.runs.evaluators whose `evaluate` runs it.
_REGISTRY: dict[str, str] = {
    "classification": "classification",    # results.json: accuracy, macro P/R/F1, confusion
    "figures": "figures",                  # figures/confusion.png, figures/training_curves.png
    "attention": "attention",              # attention.json: attention mass in AU regions
    "group_attention": "group_attention",  # group_attention.json, figures: Sun Fig. 7
    "landmarks": "landmarks",              # landmarks.json, figures/ced.png: NME per stage
    "gradcam": "gradcam",                  # gradcam.json: Grad-CAM vs AU landmarks (Table 5)
    "cross_dataset": "cross_dataset",      # cross_dataset.{json,md}: accuracy on other sets
    "knn": "knn",                          # knn.json: k-NN accuracy on the embedding, t-SNE
    "attention_image": "attention_image",  # attention_image.json: I_att vs mask and AU regions
    "robustness": "robustness",            # robustness.json: accuracy under Gaussian noise
    "self_attention_queries": "self_attention_queries",  # figures/self_attention_queries.png
}


class EvalTarget:
    """A trained model as evaluators see it (ferjax.train.loop.TrainedModel's fields, and
    `restored`, restored from the final checkpoint once, on first use)."""

    def __init__(self, trained):
        self.trained = trained
        self.workdir, self.config = Path(trained.workdir), trained.config
        self.data, self.result = trained.data, trained.result

    @functools.cached_property
    def restored(self) -> RestoredModel:
        return restore_model(self.workdir, self.config, self.data)


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(kind: str) -> Callable:
    """The `evaluate` function of evaluator type `kind`."""
    if kind not in _REGISTRY:
        raise ValueError(f"evaluator type {kind!r} is unknown; choose one of {names()}")
    return importlib.import_module(f"ferjax.runs.evaluators.{_REGISTRY[kind]}").evaluate


def check(config) -> None:
    """Fails before any training on an evaluator entry without a known type."""
    for name, spec in config.get("evals", {}).items():
        if "type" not in spec:
            raise ValueError(f"config.evals.{name} has no 'type'; choose one of {names()}")
        if spec["type"] not in _REGISTRY:
            raise ValueError(f"config.evals.{name}.type={spec['type']!r} is unknown; choose "
                             f"one of {names()}")


def run_all(config, trained, out_dir: str | Path, only: Sequence[str] | None = None) -> dict:
    """Runs config.evals (those named in `only`, when given) on `trained`; {name: result}.

    Every evaluator is host-local: process 0 runs them all while the other processes of a
    multi-process run wait (ferjax.train.host_local.run_on_main) and get {}. An evaluator
    therefore touches no collective (its model comes from restore_model's single-process
    read); one that tried would fail with CollectiveInHostLocalError, in a single-process run
    too.
    """
    def run() -> dict:
        target, results = EvalTarget(trained), {}
        for name, spec in config.get("evals", {}).items():
            if only is not None and name not in only:
                continue
            options = {k: v for k, v in spec.items() if k != "type"}
            results[name] = get(spec["type"])(target, Path(out_dir), **options)
        return results

    return host_local.run_on_main(f"evaluators in {out_dir}", run) or {}
