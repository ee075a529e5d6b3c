"""Stage-wise EmotionalDAN training: config, phases, warm starts and an end-to-end tiny run
with its evaluators (landmarks, Grad-CAM)."""

import json

import jax
import numpy as np
import pytest

from ferjax.configs import emotional_dan as dan_config
from ferjax.data import pipeline, sources
from ferjax.runs import stagewise
from ferjax.train import checkpoint

SIZE = 32


def _records(n, seed):
    """Faces of 68 bright points around a jittered mean shape; canonical labels 0..7 in turn."""
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(0).uniform(8, 24, size=(68, 2))
    base[36:42] = (11.0, 13.0)
    base[42:48] = (21.0, 13.0)
    records = []
    for i in range(n):
        points = (base + rng.uniform(-2, 2, size=2)).astype(np.float32)
        image = rng.integers(0, 40, (SIZE, SIZE, 1)).astype(np.uint8)
        cols, rows = np.clip(np.rint(points).astype(int), 0, SIZE - 1).T
        image[rows, cols] = 220
        records.append({"image": image, "label": np.int64(i % 8), "landmarks": points,
                        "subject_id": np.int64(i % 5), "fold": np.int64(i % 5)})
    return records


def _tiny_config(arg="runlocal"):
    c = dan_config.get_config(f"size={SIZE},width=2,fc=8,{arg}")
    c.data.source = "memory"
    c.data.records = {"train": sources.ListSource(_records(48, 1)),
                      "validation": sources.ListSource(_records(16, 2))}
    c.data.stats_examples = 16
    c.stagewise.first_stage_steps = c.stagewise.stage_steps = 2
    c.train.batch_size = 8
    c.train.checkpoint_every = 2
    c.evals.landmarks.max_examples = c.evals.gradcam.max_examples = 16
    del c.evals["figures"]
    c.stagewise.phase_evals = ("classification",)
    return c


def test_config_arguments_select_label_space_stages_and_losses():
    c = dan_config.get_config(None)
    assert c.protocol == "stagewise" and c.data.name == "fersynth" and c.data.config == "wild"
    assert c.data.label_space == "seven" and c.model.num_stages == 2
    assert c.losses.to_dict() == {"landmark_nme": {"weight": 0.4}, "emotion_ce": {"weight": 0.6}}
    assert c.data.extra_keys == ("landmarks",) and not c.data.augment.flip
    assert c.data.crop_size == (144, 112)
    code = dan_config.get_config("classes=3,stages=3,loss=code")
    assert code.data.label_space == "three" and code.model.num_stages == 3
    assert code.losses.landmark_nme.weight == code.losses.emotion_ce.weight == 0.5
    emotion = dan_config.get_config("loss=emotion")
    assert set(emotion.losses) == {"emotion_ce"}
    assert set(emotion.stagewise.first_stage.losses) == {"emotion_ce"}
    paper = dan_config.get_config("data=affectnet,paper")
    assert paper.data.crop_size == (224, 224) and paper.model.base_channels == 64
    assert paper.train.schedule.half_cycle == 10_000 and paper.stagewise.stage_steps == 0
    assert dan_config.get_config("size=64").data.crop_size == (64, 64)
    adam = dan_config.get_config("stage_opt=adam").train
    assert adam.optimizer.name == "adam" and adam.schedule.to_dict() == {"kind": "constant",
                                                                         "lr": 1e-3}
    for bad, message in [("classes=6", "classes"), ("loss=sum", "loss"), ("size=100", "size"),
                         ("size=-16", "size"), ("stage_opt=rmsprop", "stage_opt"),
                         ("stages=0", "stages")]:
        with pytest.raises(ValueError, match=message):
            dan_config.get_config(bad)


def test_three_class_config_drops_surprise_through_the_pipeline():
    c = _tiny_config("classes=3")
    data = pipeline.build_data(c.data, seed=0)
    assert data.info["num_classes"] == 3
    assert data.info["class_names"] == ("neutral", "positive", "negative")
    assert data.info["train_size"] == 48 - 6  # the 6 surprise faces (label 3) are dropped
    kept = [int(data.train[i]["label"]) for i in range(len(data.train))]
    assert 3 not in kept
    assert data.info["mean_landmarks"].shape == (68, 2)


def test_phases_and_their_configs():
    c = _tiny_config("stages=2,fine_tune=5")
    names = [(p.name, p.stage, p.steps, p.fine_tune_all) for p in stagewise.phases(c)]
    assert names == [("stage_1", 1, 2, False), ("stage_2", 2, 2, False),
                     ("fine_tune", 2, 5, True)]
    one, two, tune = (stagewise.phase_config(c, p, "prev") for p in stagewise.phases(c))
    assert (one.model.active_stages, one.model.frozen_stages) == (1, 0)
    assert one.train.trainable == "^stage_1/" and one.train.optimizer.name == "adam"
    assert set(one.losses) == {"landmark_nme"} and one.train.schedule.kind == "constant"
    assert (two.model.active_stages, two.model.frozen_stages) == (2, 1)
    assert two.train.trainable == "^stage_2/" and two.train.optimizer.name == "sgd"
    assert two.train.schedule.kind == "triangular" and set(two.losses) == {"landmark_nme",
                                                                          "emotion_ce"}
    assert two.train.init_from == "prev" and two.protocol == "holdout"
    assert (tune.model.frozen_stages, tune.train.trainable) == (0, "")
    assert c.model.frozen_stages == 0  # the original is untouched


def test_stagewise_run_freezes_stage_1_and_writes_the_report(tmp_path):
    c = _tiny_config()
    run = stagewise.run(c, tmp_path)
    summary = run.summary
    assert summary["phases"] == ["stage_1", "stage_2"]
    assert [m.workdir.name for m in run.models] == ["stage_1", "stage_2"]
    assert set(run.evals) == {"landmarks", "gradcam"}  # the final model's, in workdir
    for phase in ("stage_1", "stage_2"):  # phase_evals run in every phase
        assert json.loads((tmp_path / phase / "results.json").read_text())["step"] == 2
    assert not (tmp_path / "results.json").exists()
    for phase in ("stage_1", "stage_2"):
        assert np.isfinite(summary[phase]["loss/landmark_nme"])
    first = checkpoint.restore_variables(tmp_path / "stage_1")
    second = checkpoint.restore_variables(tmp_path / "stage_2")
    for collection in ("params", "batch_stats"):
        for a, b in zip(jax.tree.leaves(first[collection]["stage_1"]),
                        jax.tree.leaves(second[collection]["stage_1"])):
            np.testing.assert_array_equal(a, b)
        assert any(not np.array_equal(a, b) for a, b in zip(
            jax.tree.leaves(first[collection]["stage_2"]),
            jax.tree.leaves(second[collection]["stage_2"])))
    saved = json.loads((tmp_path / "stagewise.json").read_text())
    assert saved["phases"] == ["stage_1", "stage_2"]
    report = json.loads((tmp_path / "landmarks.json").read_text())
    assert report["num_examples"] == 14  # 16 faces less the 2 contempt ones (7 classes)
    assert set(report["landmarks"]) == {"mean_shape", "stage_1", "stage_2"}
    assert 0.0 <= report["landmarks"]["stage_2"]["auc@0.08_inter_pupil"] <= 1.0
    gradcam = json.loads((tmp_path / "gradcam.json").read_text())
    assert gradcam["num_examples"] == 14 and set(gradcam["table5"]) == {"conv4a", "conv4b"}
    assert (tmp_path / "figures" / "ced.png").stat().st_size > 1000
    # Rerunning skips the finished phases instead of training again.
    c.evals = {k: v for k, v in c.evals.items() if k == "classification"}
    again = stagewise.run(c, tmp_path)
    assert again.summary["stage_2"] == summary["stage_2"]
    assert all(m.data is None for m in again.models)  # nothing retrained or rebuilt


def test_init_from_needs_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoint.restore_variables(tmp_path)


def test_phase_evals_must_be_declared(tmp_path):
    c = _tiny_config()
    c.stagewise.phase_evals = ("figures",)
    with pytest.raises(ValueError, match=r"phase_evals names \['figures'\]"):
        stagewise.run(c, tmp_path)


def test_cross_argument_names_the_papers_test_sets():
    assert "cross_dataset" not in dan_config.get_config(None).evals
    paper = dan_config.get_config("data=affectnet,paper,cross").evals.cross_dataset
    assert paper.type == "cross_dataset"
    assert paper.columns == ("CK+", "JAFFE", "ISED")
    assert paper.sets["CK+"].name == "ckplus"
    assert paper.sets["CK+"].builder_kwargs.image_size == 224
    assert paper.sets["CK+"].eval_split == paper.sets["CK+"].train_split
    synth = dan_config.get_config("cross").evals.cross_dataset
    assert [synth.sets[c].config for c in synth.columns] == ["front", "pose", "wild"]
