"""Every experiment config, with its `runlocal` argument, trains and evaluates end to end.

As flax's train_test: the config file's own get_config("runlocal"), run by the runner its
protocol names (ferjax.runs) with every evaluator it declares. Only the records change: a few
FERSynth subjects rendered in memory with the config's builder settings (the records the TFDS
builder would store), instead of building the whole dataset. One compile per model.
"""

import importlib
import inspect
import json
from pathlib import Path

import numpy as np
import pytest
from synth_records import use_memory_records

from ferjax import runs

REPO = Path(__file__).resolve().parents[1]


def experiment_configs() -> list[str]:
    """ferjax/configs/*.py whose get_config takes the one command-line argument."""
    names = []
    for path in sorted((REPO / "ferjax" / "configs").glob("*.py")):
        module = importlib.import_module(f"ferjax.configs.{path.stem}")
        fn = getattr(module, "get_config", None)
        if fn is not None and list(inspect.signature(fn).parameters) == ["arg"]:
            names.append(path.stem)
    return names


def test_every_experiment_config_is_covered():
    assert set(experiment_configs()) == {"sun_attention", "sun_baseline", "sun_gap",
                                         "jalal_self_attention", "feratt", "emotional_dan",
                                         "cross_paper", "vgg_fer"}


@pytest.mark.parametrize("name", experiment_configs())
def test_runlocal_trains_and_evaluates(name, tmp_path):
    config = importlib.import_module(f"ferjax.configs.{name}").get_config("runlocal")
    assert config.data.name == "fersynth"
    use_memory_records(config)
    result = runs.run(config, tmp_path)
    assert not result.preempted
    final = result.models[-1]
    saved = json.loads((final.workdir / "results.json").read_text())
    assert saved["step"] == final.config.train.num_steps > 0
    assert np.isfinite(saved["loss"]) and 0.0 <= saved["accuracy"] <= 1.0
    assert saved["num_examples"] == final.data.info["eval_size"]
    phase_evals = set(config.get("stagewise", {}).get("phase_evals", ()))
    assert set(result.evals) == set(config.evals) - phase_evals
