"""ferjax.predict.predictor on a tiny FERSynth run: every face of a photo, the builders' and
the evaluation transform's exact inputs, one compiled batch shape, faceless images."""

import dataclasses

import numpy as np
import pytest

from ferjax import synth
from ferjax.data.real.face import FaceOptions, make_face_preprocessor
from ferjax.evaluation import tta
from ferjax.predict import predictor as predictor_lib
from ferjax.predict.predictor import Predictor
from ferjax.runs import restore
from tests import predict_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return predict_run.tiny_run(tmp_path_factory.mktemp("predict") / "run")


@pytest.fixture(scope="module")
def predictor(run):
    return Predictor.from_workdir(run, batch_size=4)


def test_a_stored_face_without_detection_gets_the_evaluation_transforms_views(run, predictor):
    restored = restore.restore_model(run)  # the full restore, with the training data
    record = synth.FERSynthSource(synth.preset("front", **predict_run.SYNTH), seed=0,
                                  num_examples=None, split="test")[0]
    expected = tta.eval_transform(restored.data.spec, restored.data.norm, "flip").map(record)
    prepared = predictor.prepare(record["image"], None)
    np.testing.assert_array_equal(predictor.model_views(prepared), expected["views"])
    (out,) = predictor.predict([record["image"]], ["stored"], detect=False)
    assert out["box"] == [0.0, 0.0, 32.0, 40.0] and out["score"] is None
    logits = restored.apply(expected["views"])["logits"]
    probs = np.mean(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), axis=0)
    assert list(out["probabilities"].values()) == pytest.approx(probs.tolist(), abs=1e-5)
    assert out["label"] == restored.data.info["class_names"][int(np.argmax(probs))]


def test_a_detected_face_goes_through_the_builders_face_preprocessing(predictor):
    photo = predict_run.pasted(predict_run.faces(1))
    (face,) = predictor.detect(photo)
    # A crop-"none" run's detections take the "box" window (module docstring).
    box_fn = make_face_preprocessor(dataclasses.replace(predictor.spec.face, crop="box"))
    builder = box_fn(photo, None, predictor_lib.xyxy_to_xywh(face.box)).image
    np.testing.assert_array_equal(predictor.prepare(photo, face), builder)
    transform = tta.eval_transform(predictor.spec.example_spec, predictor.spec.normalisation,
                                   "flip")
    np.testing.assert_array_equal(predictor.model_views(builder),
                                  transform.map({"image": builder, "label": 0})["views"])
    # An aligned-crop spec: the detection's points give the builder's own "tight" crop.
    tight = FaceOptions(image_size=(40, 32), grey=True, crop="tight")
    aligned = Predictor(dataclasses.replace(predictor.spec, face=tight), predictor._apply_fn,
                        predictor.variables)
    np.testing.assert_array_equal(aligned.prepare(photo, aligned.detect(photo)[0]),
                                  make_face_preprocessor(tight)(photo, None, None).image)


def test_every_face_in_one_compiled_batch_shape(predictor):
    one, two, three = (predict_run.pasted(predict_run.faces(n)) for n in (1, 2, 3))
    grey = np.full((120, 160, 3), 128, np.uint8)
    records = predictor.predict([one, two, grey, three], ["one", "two", "grey", "three"])
    assert [(r["source"], r["face"]) for r in records] == [
        ("one", 0), ("two", 0), ("two", 1), ("grey", None), ("three", 0), ("three", 1),
        ("three", 2)]
    assert records[3]["reason"] == predictor_lib.NO_FACE and "label" not in records[3]
    xs = sorted(r["box"][0] for r in records if r["source"] == "two")
    assert xs[0] < 128 < xs[1]  # one face on each side
    for r in records[:3] + records[4:]:
        assert set(r["probabilities"]) == set(predictor.spec.class_names)
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert len(r["landmarks"]) == 5 and 0.5 < r["score"] <= 1.0
    predictor.predict([three], explain=True)  # 3 faces again (+1 padded), and single images
    predictor.predict([one])
    assert predictor.classify_fn._cache_size() == 1


def test_explain_returns_the_models_input_and_attention(predictor):
    (out,) = predictor.predict([predict_run.faces(1)[0]], explain=True)
    assert out["input"].shape == (32, 32, 1) and out["input"].dtype == np.uint8
    assert out["attention"].shape == (2, 2)  # sun_attention's map is the input / 16


def test_gradcam_explanations_are_the_layers_grad_cam_of_the_predicted_class(run):
    from ferjax.explain.gradcam import grad_cam
    with pytest.raises(ValueError, match=r"--gradcam_layer='nope' is not a layer.*"):
        Predictor.from_workdir(run, gradcam_layer="nope")
    layers = predictor_lib.module_paths(restore.restore_model(run).variables["params"])
    layer = [p for p in layers if "conv" in p.lower()][-1]
    cam_predictor = Predictor.from_workdir(run, batch_size=4, gradcam_layer=layer)
    faces = predict_run.faces(3)
    records = cam_predictor.predict(faces, detect=False, explain=True)
    restored = restore.restore_model(run)
    views = np.stack([cam_predictor.model_views(cam_predictor.prepare(f, None)) for f in faces])
    labels = [restored.data.info["class_names"].index(r["label"]) for r in records]
    want, _ = grad_cam(restored.model, restored.variables, views[:, 0], layer,
                       np.asarray(labels), resize=False)
    for record, cam in zip(records, np.asarray(want)):
        np.testing.assert_allclose(record["attention"], cam, atol=1e-5)
        assert 0.0 <= record["attention"].min() and record["attention"].max() <= 1.0 + 1e-6
