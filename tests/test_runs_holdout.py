"""The holdout runner with config-declared evaluators, restore_model, and the registries."""

import json

import numpy as np
import pytest
from toy import toy_config

from ferjax import runs
from ferjax.data import pipeline
from ferjax.evaluation.cross_dataset import predict
from ferjax.runs import evaluators
from ferjax.runs.restore import load_config, restore_model

RESULT_KEYS = {"accuracy", "macro_precision", "macro_recall", "macro_f1", "num_examples",
               "per_class_accuracy", "classes_present", "confusion", "class_names", "loss",
               "loss/emotion_ce", "step"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("holdout")
    config = toy_config(steps=4)
    config.evals = {"classification": {"type": "classification"},
                    "figures": {"type": "figures"},
                    "attention": {"type": "attention", "max_examples": 16}}
    return config, runs.run(config, workdir)


def test_runner_trains_one_model_and_runs_the_evaluators(run):
    config, result = run
    assert len(result.models) == 1 and not result.preempted
    assert list(result.evals) == ["attention", "classification", "figures"]  # name order
    workdir = result.workdir
    saved = json.loads((workdir / "results.json").read_text())
    assert set(saved) == RESULT_KEYS  # other tools read these keys
    assert saved == json.loads(json.dumps(result.summary))
    assert saved["num_examples"] == 24 and np.sum(saved["confusion"]) == 24
    for name in ("confusion.png", "training_curves.png", "attention_per_emotion.png"):
        assert (workdir / "figures" / name).stat().st_size > 1000
    attention = json.loads((workdir / "attention.json").read_text())
    assert attention["au_mass"] is None  # toy records have no AU regions to score


def test_restored_model_reproduces_the_final_evaluation(run):
    config, result = run
    restored = restore_model(result.workdir, config)
    assert restored.workdir == result.workdir
    assert set(restored.variables) == {"params", "batch_stats"}
    data = restored.data
    labels, predictions = predict(restored.model, restored.variables, data.eval,
                                  pipeline.EvalTransform(data.spec, data.norm), 16)
    assert float(np.mean(labels == predictions)) == pytest.approx(result.summary["accuracy"])
    # Passing the run's data skips rebuilding it.
    again = restore_model(result.workdir, config, data=result.models[0].data)
    assert again.data is result.models[0].data


def test_restore_needs_a_run_and_a_config_it_can_rebuild(run, tmp_path):
    config, result = run
    with pytest.raises(ValueError, match="in-memory records .* pass its config"):
        load_config(result.workdir)
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        restore_model(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoints/"):
        restore_model(tmp_path, config)


def test_unknown_protocol_and_evaluator_fail_before_training(tmp_path):
    config = toy_config()
    config.protocol = "holdhout"
    with pytest.raises(ValueError, match="config.protocol='holdhout'.*holdout"):
        runs.run(config, tmp_path)
    config = toy_config()
    config.evals = {"cm": {"type": "confusion"}}
    with pytest.raises(ValueError, match="config.evals.cm.type='confusion'"):
        runs.run(config, tmp_path)
    config.evals = {"cm": {"kind": "figures"}}
    with pytest.raises(ValueError, match="config.evals.cm has no 'type'"):
        runs.run(config, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing trained
    assert set(runs.names()) == {"holdout", "kfold", "stagewise"}
    assert {"classification", "figures", "attention", "landmarks", "gradcam", "cross_dataset",
            "knn", "attention_image", "robustness"} <= set(evaluators.names())


def test_cross_dataset_evaluator_tests_the_final_model_on_other_splits(run, tmp_path):
    config, result = run
    sets = {"same": {"eval_split": "validation"}, "train": {"eval_split": "train"}}
    scores = evaluators.get("cross_dataset")(evaluators.EvalTarget(result.models[0]), tmp_path,
                                             sets=sets, columns=("train", "same"))
    assert scores["same"] == pytest.approx(result.summary["accuracy"])
    assert 0.0 <= scores["train"] <= 1.0
    saved = json.loads((tmp_path / "cross_dataset.json").read_text())
    assert saved == {"sun_attention (8 classes, trained on fersynth)": scores}
    assert "| model | train | same |" in (tmp_path / "cross_dataset.md").read_text()
