"""ferjax.predict.spec: InputSpec JSON round trip, validation, and values read from a run's
config.json + data_stats.json (FERSynth and a real builder's face options)."""

import json

import pytest

from ferjax.configs import pieces
from ferjax.data.real.face import FaceOptions
from ferjax.predict import spec as spec_lib
from ferjax.predict.spec import InputSpec
from ferjax.preprocess.mtcnn import MTCNNConfig


def _spec(**kwargs):
    base = dict(face=FaceOptions(image_size=(40, 32), grey=True, crop="tight",
                                 illumination="isotropic"),
                crop_size=(32, 32), channels=1, mean=(0.4,), std=(0.2,),
                class_names=("neutral", "happy"), tta="flip",
                detector=MTCNNConfig(min_face_size=30.0))
    return InputSpec(**{**base, **kwargs})


def test_json_round_trip_through_a_file(tmp_path):
    spec = _spec()
    path = spec.write(tmp_path)
    assert path.name == "preprocess.json"
    data = json.loads(path.read_text())  # plain JSON
    assert data["format_version"] == spec_lib.FORMAT_VERSION
    assert data["face"]["crop"] == "tight" and data["crop_size"] == [32, 32]
    assert InputSpec.read(path) == spec == InputSpec.from_json(spec.to_json())
    per_pixel = _spec(mean=[[[0.1]] * 32] * 32, std=[[[0.3]] * 32] * 32)
    assert InputSpec.from_json(json.loads(json.dumps(per_pixel.to_json()))) == per_pixel
    assert per_pixel.normalisation.mean_array.shape == (32, 32, 1)


def test_inconsistent_or_unknown_specs_are_refused():
    with pytest.raises(ValueError, match="channels"):
        _spec(channels=3)
    with pytest.raises(ValueError, match="crop_size"):
        _spec(crop_size=(48, 32))
    with pytest.raises(ValueError, match="format_version 99"):
        InputSpec.from_json({**_spec().to_json(), "format_version": 99})


def _fake_run(workdir, data_cfg, tta="none"):
    c = pieces.base()
    c.data = data_cfg
    c.data.crop_size = (32, 32)
    c.eval.tta = tta
    workdir.mkdir()
    (workdir / "config.json").write_text(c.to_json_best_effort())
    (workdir / "data_stats.json").write_text(json.dumps({
        "mean": [0.5], "std": [0.25], "num_classes": 8, "image_shape": [32, 32, 1],
        "class_names": ["neutral", "happy", "sad", "surprise", "fear", "disgust", "anger",
                        "contempt"]}))
    return workdir


def test_fersynth_run_gives_crop_none_at_the_rendered_size(tmp_path):
    run = _fake_run(tmp_path / "synth", pieces.fersynth_data("front", image_size=(40, 32)),
                    tta="flip")
    spec = spec_lib.input_spec_from_workdir(run)
    assert spec.face == FaceOptions(image_size=(40, 32), grey=True, crop="none")
    assert (spec.crop_size, spec.channels, spec.tta) == ((32, 32), 1, "flip")
    assert spec.mean == (0.5,) and spec.std == (0.25,) and spec.class_names[-1] == "contempt"
    assert spec.detector == MTCNNConfig()


def test_real_run_takes_its_builder_configs_face_options(tmp_path):
    data = pieces.fersynth_data()
    data.name, data.config = "jaffe", ""
    data.builder_kwargs = {"image_size": 48, "crop": "tight"}
    spec = spec_lib.input_spec_from_workdir(_fake_run(tmp_path / "jaffe", data))
    assert spec.face == FaceOptions(image_size=(48, 48), grey=True, crop="tight")


def test_a_folder_without_a_run_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        spec_lib.input_spec_from_workdir(tmp_path)


def test_predictor_is_named_by_the_package_and_loaded_lazily():
    import subprocess
    import sys

    code = ("import sys, ferjax.predict as p; assert 'ferjax.predict.predictor' not in sys.modules; "
            "from ferjax.predict.predictor import Predictor; assert p.Predictor is Predictor; "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
    import ferjax.predict

    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        ferjax.predict.Nothing
