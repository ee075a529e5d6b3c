"""python -m ferjax.evaluate: label-space mapping by hand, then end to end on tiny FERSynth runs
(8-class and 7-class models tested on other FERSynth variants, with 7 and 8 classes)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from ferjax import evaluate, labels, synth
from ferjax.configs import pieces
from ferjax.data import pipeline, sources
from ferjax.evaluation import cross_dataset
from ferjax.runs import restore
from ferjax.train import loop
from tests import toy

NEUTRAL, HAPPY, SAD, SURPRISE, FEAR, DISGUST, ANGER, CONTEMPT = range(8)
SYNTH = {"image_size": (40, 32), "num_subjects": 10, "variants_per_class": 1}


def test_scored_classes_and_dropped_examples_by_hand():
    seven = labels.SEVEN_CLASSES
    # 8-class model, 7-class test set: contempt is the one class the test set cannot hold.
    assert cross_dataset.scored_classes("canonical8", seven).tolist() == [True] * 7 + [False]
    # 7-class model, 8-class test set: every model class is scored...
    assert cross_dataset.scored_classes("seven", labels.CLASSES).tolist() == [True] * 7
    # ...and the contempt examples are dropped and counted.
    canonical = np.array([CONTEMPT, HAPPY, CONTEMPT, NEUTRAL])
    assert cross_dataset.dropped_by_class(canonical, "seven") == {"contempt": 2}
    assert cross_dataset.dropped_by_class(canonical, "canonical8") == {}
    # 3-class space (EmotionalDAN): surprise is dropped; happy and contempt are both positive.
    assert cross_dataset.dropped_by_class(np.array([SURPRISE, CONTEMPT]), "three") == {"surprise": 1}
    assert cross_dataset.scored_classes("three", ("happy",)).tolist() == [False, True, False]


def test_restricted_argmax_and_both_policies_by_hand():
    names = labels.CLASSES
    allowed = cross_dataset.scored_classes("canonical8", labels.SEVEN_CLASSES)
    logits = np.full((4, 8), -5.0, np.float32)
    logits[0, [HAPPY, CONTEMPT]] = [2.0, 3.0]    # contempt first, happy second: truth happy
    logits[1, [SAD, CONTEMPT]] = [1.0, 4.0]      # contempt first, sad second: truth anger
    logits[2, NEUTRAL] = 1.0                      # right
    logits[3, FEAR] = 1.0                         # right
    truth = np.array([HAPPY, ANGER, NEUTRAL, FEAR])
    assert cross_dataset.restricted_argmax(logits, allowed).tolist() == [HAPPY, SAD, NEUTRAL, FEAR]
    restrict = cross_dataset.label_mapped_report(truth, logits, names, allowed, "restrict")
    assert restrict["accuracy"] == pytest.approx(3 / 4)
    assert restrict["predicted_outside_target"] == 2
    assert restrict["other_policy"] == {"absent_classes": "wrong", "accuracy": 0.5,
                                        "macro_f1": pytest.approx((1 + 1) / 4)}
    # Macro over the four classes present; happy, neutral, fear right (F1 1), anger missed.
    assert restrict["macro_f1"] == pytest.approx(3 / 4)
    assert restrict["per_class_accuracy"]["contempt"] is None
    wrong = cross_dataset.label_mapped_report(truth, logits, names, allowed, "wrong")
    assert wrong["accuracy"] == 0.5 and wrong["confusion"][HAPPY][CONTEMPT] == 1
    assert wrong["other_policy"]["accuracy"] == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="absent-class policy 'drop'; expected one of"):
        cross_dataset.label_mapped_report(truth, logits, names, allowed, "drop")
    with pytest.raises(ValueError, match="shares no class"):
        cross_dataset.restricted_argmax(logits, np.zeros(8, bool))


def test_default_splits_follow_the_protocols():
    assert evaluate.default_split("fer2013", "") == "test"          # PrivateTest
    assert evaluate.default_split("ckplus", "") == "train"          # its whole fold pool
    assert evaluate.default_split("class_folder", "ck48") == "train"
    assert evaluate.default_split("jaffe", "") == "train"
    assert evaluate.default_split("fersynth", "pose") == "test"


def test_real_test_set_takes_the_runs_preprocessing():
    run, _ = pieces.real_data("fer2013", image_size=48, mask=False)
    test = evaluate.target_data_config(run, "class_folder", "ck48", crop_margin=0.1)
    assert dict(test.builder_kwargs) == {"image_size": 48, "grey": True, "crop": "none",
                                        "crop_margin": 0.1, "illumination": "none"}
    assert (test.eval_split, test.source, tuple(test.extra_keys)) == ("train", "tfds", ())
    assert test.label_space == "seven" and test.fold == -1
    synth_run = pieces.fersynth_data("front")
    test = evaluate.target_data_config(synth_run, "jaffe", crop="tight")
    assert dict(test.builder_kwargs) == {"image_size": (144, 112), "grey": True, "crop": "tight"}


def _tiny_run(workdir, label_space):
    c = toy.toy_config(steps=2)
    c.data = pieces.fersynth_data("front", **SYNTH)
    c.data.source = "fersynth_live"
    c.data.crop_size = (32, 32)
    c.data.stats_examples = 16
    c.data.label_space = label_space
    loop.train(c, workdir)
    return workdir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {8: _tiny_run(root / "eight", "canonical8"), 7: _tiny_run(root / "seven", "seven")}


def _split(variant, split="test", **kwargs):
    return synth.FERSynthSource(synth.preset(variant, **{**SYNTH, **kwargs}), seed=0,
                                num_examples=None, split=split)


def test_eight_class_run_on_another_variant_matches_a_direct_prediction(runs):
    report = evaluate.evaluate(runs[8], "fersynth", "pose")
    test = _split("pose")
    assert report["test_set"]["examples_in_split"] == len(test) == report["num_examples"]
    assert report["dropped_examples"] == 0 and report["predicted_outside_target"] == 0
    assert report["scored_classes"] == list(labels.CLASSES)
    restored = restore.restore_model(runs[8])   # the full restore, with the training data
    truth, predicted = cross_dataset.predict(
        restored.model, restored.variables, test,
        pipeline.EvalTransform(restored.data.spec, restored.data.norm), 16)
    assert report["accuracy"] == pytest.approx(float(np.mean(truth == predicted)))
    assert np.sum(report["confusion"]) == len(test)
    stats = json.loads((runs[8] / "data_stats.json").read_text())
    assert stats["mean"] == pytest.approx(list(restored.data.norm.mean))


def test_eight_class_run_on_seven_class_data_restricts_to_its_classes(runs):
    seven = {"classes": list(labels.SEVEN_CLASSES)}
    report = evaluate.evaluate(runs[8], "fersynth", "pose", builder_kwargs=seven)
    assert report["test_set"]["classes"] == list(labels.SEVEN_CLASSES)
    assert report["scored_classes"] == list(labels.SEVEN_CLASSES)
    assert report["absent_classes"] == "restrict" and report["dropped_examples"] == 0
    assert [row[CONTEMPT] for row in report["confusion"]] == [0] * 8   # never predicted
    assert report["per_class_accuracy"]["contempt"] is None
    assert report["classes_present"] == list(labels.SEVEN_CLASSES)
    wrong = evaluate.evaluate(runs[8], "fersynth", "pose", builder_kwargs=seven,
                              absent_classes="wrong")
    assert wrong["accuracy"] == report["other_policy"]["accuracy"]
    assert wrong["other_policy"]["accuracy"] == report["accuracy"]
    assert sum(row[CONTEMPT] for row in wrong["confusion"]) == wrong["predicted_outside_target"]


def test_seven_class_run_on_eight_class_data_drops_and_counts_contempt(runs):
    report = evaluate.evaluate(runs[7], "fersynth", "wild")
    test = _split("wild")
    contempt = int(np.sum(sources.field_values(test, "label") == CONTEMPT))
    assert contempt > 0
    assert report["dropped_by_class"] == {"contempt": contempt}
    assert report["num_examples"] == len(test) - contempt == report["test_set"]["examples_in_split"] - contempt
    assert report["class_names"] == list(labels.SEVEN_CLASSES)
    assert len(report["confusion"]) == 7


def test_command_line_prints_and_writes_strict_json(runs, tmp_path):
    out = tmp_path / "pose.json"
    done = subprocess.run(
        [sys.executable, "-m", "ferjax.evaluate", f"--workdir={runs[8]}", "--data=fersynth",
         "--data_config=pose", f"--out={out}"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert printed == json.loads(out.read_text())
    assert printed["test_set"]["data"] == "fersynth" and 0.0 <= printed["accuracy"] <= 1.0


def test_command_line_errors_name_the_problem(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ferjax.evaluate", f"--workdir={tmp_path}",
                           "--data=fersynth"], capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert f"{tmp_path / 'config.json'} is missing" in done.stderr


def test_eight_class_synth_run_on_a_real_seven_class_layout(runs, tmp_path):
    from tests import real_trees
    manual = real_trees.jaffe_tree(tmp_path / "raw")
    report = evaluate.evaluate(runs[8], "jaffe", manual_dir=str(manual),
                               data_dir=str(tmp_path / "tfds"))
    # Prepared at the run's 40×32 frame size, grey, then centre-cropped to its 32×32 as the run
    # read its own images; all 4 labelled TIFFs are scored.
    assert report["test_set"]["builder_kwargs"] == {"image_size": [40, 32], "grey": True}
    assert report["test_set"]["split"] == "train" and report["num_examples"] == 4
    assert report["scored_classes"] == list(labels.SEVEN_CLASSES)
    assert sorted(report["classes_present"]) == ["anger", "happy", "neutral", "sad"]
    assert report["per_class_accuracy"]["fear"] is None
    assert [row[CONTEMPT] for row in report["confusion"]] == [0] * 8
