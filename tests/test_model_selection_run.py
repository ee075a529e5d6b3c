"""Model selection in real (tiny) training runs: the best checkpoint of a scripted validation
sequence, test at best and at last in results.json, resume, early stopping, and the errors
raised before training."""

import json

import jax
import numpy as np
import pytest
from scripted import scripted_validation
from toy import toy_config

from ferjax import runs
from ferjax.data import pipeline
from ferjax.evaluation import tta
from ferjax.evaluation.cross_dataset import predict
from ferjax.runs.restore import restore_model
from ferjax.train import checkpoint, selection
from ferjax.train.writers import read_metrics


def _config(steps, **select):
    c = toy_config(steps=steps)
    c.data.validation_fraction = 0.3
    c.train.eval_every = 2
    c.train.checkpoint_every = 100  # saves come from the selection and the last step
    c.train.select = {"metric": "accuracy", "mode": "max", "patience": 0, **select}
    return c


def _strict(path):
    def no_constant(name):
        raise ValueError(f"{path} holds {name}")
    return json.loads(path.read_text(), parse_constant=no_constant)


@pytest.fixture(scope="module")
def selected(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("selected")
    config = _config(8)
    with scripted_validation("accuracy", [0.2, 0.6, 0.4, 0.5]):
        result = runs.run(config, workdir)
    best_variables = checkpoint.restore_variables(workdir, "best")
    return config, workdir, result, best_variables


def test_best_checkpoint_is_the_best_scripted_evaluation(selected):
    config, workdir, result, _ = selected
    saved = _strict(workdir / "results.json")
    s = saved["selection"]
    assert (s["best_step"], s["best_value"], s["metric"], s["mode"]) == (4, 0.6, "accuracy", "max")
    assert s["evaluations"] == [[2, 0.2], [4, 0.6], [6, 0.4], [8, 0.5]]
    assert s["validation_at_best"]["accuracy"] == 0.6 and not s["stopped_early"]
    assert s["validation"] == "0.3 of the training subjects"
    assert saved["step"] == 4 and saved["last"]["step"] == s["last_step"] == 8
    assert [int(p.name) for p in (workdir / checkpoint.BEST_DIR).iterdir() if p.name.isdigit()] \
        == [4]
    lines = [m for m in read_metrics(workdir) if m["split"] == "validation"]
    assert [[m["step"], m["accuracy"]] for m in lines] == s["evaluations"]
    assert saved == json.loads(json.dumps(result.summary))


def test_results_hold_the_test_split_at_best_and_at_last(selected):
    config, workdir, result, _ = selected
    saved = _strict(workdir / "results.json")
    for key in ("accuracy", "macro_f1", "confusion", "num_examples", "loss", "class_names"):
        assert key in saved and key in saved["last"]
    assert saved["num_examples"] == saved["last"]["num_examples"] == 24  # the test split
    data = result.models[0].data
    transform = pipeline.EvalTransform(data.spec, data.norm)
    for kind, entry in (("best", saved), ("last", saved["last"])):
        restored = restore_model(workdir, config, data, checkpoint_kind=kind)
        labels, predictions = predict(restored.model, restored.variables, data.eval, transform, 16)
        assert float(np.mean(labels == predictions)) == pytest.approx(entry["accuracy"])
    # The default is the selected model, the one the top-level keys report.
    selected_model = restore_model(workdir, config, data)
    best = restore_model(workdir, config, data, checkpoint_kind="best")
    for a, b in zip(*(np.concatenate([np.ravel(x) for x in jax.tree.leaves(
            m.variables)]) for m in (selected_model, best))):
        assert a == b
    last = restore_model(workdir, config, data, checkpoint_kind="last")
    assert not all(np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(last.variables), jax.tree.leaves(
            best.variables)))


def test_resume_keeps_the_best_so_far(selected):
    config, workdir, _, best_before = selected
    longer = _config(12)
    longer.data = config.data
    with scripted_validation("accuracy", [0.55, 0.58]):
        result = runs.run(longer, workdir)
    s = result.summary["selection"]
    assert s["evaluations"] == [[2, 0.2], [4, 0.6], [6, 0.4], [8, 0.5], [10, 0.55], [12, 0.58]]
    assert s["best_step"] == 4 and result.summary["last"]["step"] == 12
    best_after = checkpoint.restore_variables(workdir, "best")
    for a, b in zip(jax.tree.leaves(best_before),
                    jax.tree.leaves(best_after)):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_stops_at_the_right_evaluation_and_stays_stopped(tmp_path):
    config = _config(14, patience=2)
    config.eval.tta = "flip"
    with scripted_validation("accuracy", [0.2, 0.6, 0.4, 0.6, 0.9, 0.9, 0.9]):
        result = runs.run(config, tmp_path)
    s = result.summary["selection"]
    assert s["evaluations"] == [[2, 0.2], [4, 0.6], [6, 0.4], [8, 0.6]]
    assert s["stopped_early"] and s["best_step"] == 4
    assert result.summary["last"]["step"] == 8
    assert max(m["step"] for m in read_metrics(tmp_path) if m["split"] == "train") == 8
    # The trainer's flip-TTA evaluation is the evaluators' (cross-dataset predict) on the test set.
    data = result.models[0].data
    last = restore_model(tmp_path, config, data, checkpoint_kind="last")
    labels, predictions = predict(last.model, last.variables, data.eval,
                                  tta.eval_transform(data.spec, data.norm, "flip"), 16)
    assert float(np.mean(labels == predictions)) == pytest.approx(result.summary["last"]["accuracy"])
    # Run again: nothing more is trained and the same model is reported.
    with scripted_validation("accuracy", []):
        again = runs.run(config, tmp_path)
    assert again.summary["selection"] == s
    assert again.summary["last"]["step"] == 8
    assert [m["step"] for m in read_metrics(tmp_path) if m["split"] == "eval"] == [8]


def test_an_unknown_metric_fails_before_training(tmp_path):
    config = _config(4, metric="top5_accuracy")
    with pytest.raises(selection.UnknownMetricError,
                       match=r"metric='top5_accuracy' is not computed .* available: \['accuracy', "
                             r"'loss', 'loss/emotion_ce', 'macro_f1', 'macro_precision', "
                             r"'macro_recall'\]"):
        runs.run(config, tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def test_a_tta_mode_the_images_cannot_support_fails_before_training(tmp_path):
    config = toy_config(steps=2)
    config.eval.tta = "ten_crop"
    config.data.crop_size = (36, 36)  # the toy images are stored at 36×36
    with pytest.raises(ValueError, match="images are 36x36 and config.data.crop_size is 36x36"):
        runs.run(config, tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def test_only_a_selecting_run_has_a_best_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="selected no model"):
        checkpoint.restore_variables(tmp_path, "best")
    with pytest.raises(ValueError, match=r"checkpoint 'newest': expected one of \('selected', "
                                         r"'last', 'best'\)"):
        checkpoint.restore_variables(tmp_path, "newest")
