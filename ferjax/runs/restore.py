"""restore_model(workdir): a trained model back from its workdir, for evaluation.

The one place that knows how a run's directory maps back to (config, data, model, variables):
every evaluator, script and benchmark restores through it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from ferjax.data import pipeline
from ferjax.models import build_model
from ferjax.train import checkpoint


@dataclasses.dataclass(frozen=True)
class RestoredModel:
    """A trained model ready to apply: model.apply(variables, images, train=False)."""
    workdir: Path
    config: ml_collections.ConfigDict
    data: pipeline.Data
    model: Any                  # the Linen module
    variables: dict             # {"params", "batch_stats"} of the restored checkpoint

    def apply(self, images) -> dict:
        """The model's output dict on float32 (B, H, W, C) normalised images, inference mode;
        compiled once per RestoredModel (and per batch shape)."""
        return self._forward(self.variables, images)

    @functools.cached_property
    def _forward(self):
        return jax.jit(functools.partial(self.model.apply, train=False))


def load_config(workdir: str | Path) -> ml_collections.ConfigDict:
    """The config a run was trained with (workdir/config.json)."""
    path = Path(workdir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {workdir} is not a training run's workdir")
    config = ml_collections.ConfigDict(json.loads(path.read_text()))
    if config.data.get("source") == "memory":
        raise ValueError(f"{path}: the run was trained on in-memory records "
                         "(config.data.source='memory'), which config.json cannot hold; pass "
                         "its config to restore_model")
    return config


def model_dir(workdir: str | Path) -> Path:
    """The directory holding the final checkpoint: workdir itself, or for a stage-wise run
    (workdir/stagewise.json) its last phase."""
    workdir = Path(workdir)
    summary = workdir / "stagewise.json"
    if not (workdir / "checkpoints").is_dir() and summary.exists():
        return workdir / json.loads(summary.read_text())["phases"][-1]
    return workdir


def restore_model(workdir: str | Path, config=None, data: pipeline.Data | None = None,
                  checkpoint_kind: str = "selected") -> RestoredModel:
    """Config, data, model and variables of the run in `workdir`.

    Args:
      workdir: a run's directory (or a stage-wise run's, meaning its last phase).
      config: the run's config; default its config.json.
      data: the run's pipeline.Data when already built (saves rebuilding it from config.data).
      checkpoint_kind: "selected" (default): the model the run reports at its top-level
        results, i.e. the best checkpoint by config.train.select when the run selected on a
        validation split (workdir/checkpoints_best), else the last; "best" (only from a
        selecting run) or "last" (the newest checkpoint).
    Raises FileNotFoundError naming the directory when it has no config.json or checkpoint.
    """
    workdir = model_dir(workdir)
    if config is None:
        config = load_config(workdir)
    if not (workdir / "checkpoints").is_dir():
        raise FileNotFoundError(f"no checkpoints/ in {workdir}: not a trained run")
    if data is None:
        data = pipeline.build_data(config.data, seed=config.seed)
    model = build_model(config.model, data.info)
    if checkpoint_kind not in checkpoint.CHECKPOINTS:
        raise ValueError(f"checkpoint_kind={checkpoint_kind!r}; expected one of "
                         f"{checkpoint.CHECKPOINTS}")
    variables = jax.tree.map(jnp.asarray, checkpoint.restore_variables(workdir, checkpoint_kind))
    return RestoredModel(workdir, config, data, model, variables)
