import json

import jax.numpy as jnp
import numpy as np
import pytest
from toy import toy_config

from ferjax import losses as loss_lib
from ferjax.train import checkpoint, loop, writers


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    result = loop.train_and_evaluate(toy_config(steps=6), workdir)
    return workdir, result


def test_run_leaves_metrics_checkpoints_and_returns_the_evaluation(trained):
    workdir, result = trained
    assert result["num_examples"] == 24 and result["step"] == 6
    assert np.sum(result["confusion"]) == 24
    lines = writers.read_metrics(workdir)
    assert [l["step"] for l in lines if l["split"] == "train"] == [2, 4, 6]
    assert all(np.isfinite(l["loss"]) for l in lines)
    assert (workdir / "checkpoints" / "6").is_dir()
    config = json.loads((workdir / "config.json").read_text())
    assert config["model"]["name"] == "sun_attention"
    assert list((workdir / "tensorboard").iterdir())
    # What else a run leaves is its evaluators' business (ferjax.runs), not the engine's.
    assert not (workdir / "results.json").exists() and not (workdir / "figures").exists()


def test_rerun_resumes_instead_of_retraining(trained, capsys):
    workdir, result = trained
    config = toy_config(steps=6)
    again = loop.train_and_evaluate(config, workdir)
    assert "resumed from checkpoint at step 6" in capsys.readouterr().out
    assert again["accuracy"] == pytest.approx(result["accuracy"])


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    straight = loop.train_and_evaluate(toy_config(steps=6), tmp_path / "a")
    loop.train_and_evaluate(toy_config(steps=4), tmp_path / "b")   # "interrupted" at 4
    resumed = loop.train_and_evaluate(toy_config(steps=6), tmp_path / "b")
    a = writers.read_metrics(tmp_path / "a")
    b = writers.read_metrics(tmp_path / "b")
    train_a = [l for l in a if l["split"] == "train"]
    train_b = [l for l in b if l["split"] == "train"]
    assert [l["step"] for l in train_b] == [2, 4, 6]
    for la, lb in zip(train_a, train_b):
        assert la["loss"] == pytest.approx(lb["loss"], rel=1e-5)
    assert resumed["confusion"] == straight["confusion"]


def test_nan_loss_stops_with_last_checkpoint_intact(tmp_path, monkeypatch):
    def poisoned(outputs, batch):
        ce = loss_lib.get("emotion_ce")(outputs, batch)
        return jnp.where(batch["step"] >= 3, jnp.nan, ce)

    monkeypatch.setitem(loss_lib._REGISTRY, "poisoned", "test_train_loop:poisoned_loss")
    globals()["poisoned_loss"] = poisoned
    config = toy_config(steps=8)
    config.losses = {"poisoned": {"weight": 1.0}}
    with pytest.raises(loop.NonFiniteLossError, match="step 4") as err:
        loop.train_and_evaluate(config, tmp_path)
    assert "last good checkpoint (step 2)" in str(err.value)
    manager = checkpoint.make_manager(tmp_path, 2)
    assert manager.all_steps() == [2]
    assert not (tmp_path / "results.json").exists()


def test_unknown_loss_and_bad_batch_size_fail_clearly(tmp_path):
    config = toy_config()
    config.losses = {"emotoin_ce": {"weight": 1.0}}
    with pytest.raises(ValueError, match="emotoin_ce"):
        loop.train_and_evaluate(config, tmp_path / "a")
    config = toy_config(batch=12)
    with pytest.raises(ValueError, match="batch_size=12"):
        loop.train_and_evaluate(config, tmp_path / "b")
