"""ferjax.export on a tiny trained run: the StableHLO function at any batch size equals the
restored model, Predictor.from_export equals from_workdir without importing training code,
ONNX parity (with the ferjax[export] extra), and the command's one-line errors."""

import functools
import json
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax import export, synth
from ferjax.models import build_model
from ferjax.predict.predictor import Predictor
from ferjax.runs import restore
from tests import predict_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return predict_run.tiny_run(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture(scope="module")
def exported_dir(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "out"
    export.export_run(run, out)
    return out


def _images(n, seed=0, shape=(32, 32, 1)):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype(np.float32)


def test_the_files_and_manifest(exported_dir):
    manifest = json.loads((exported_dir / export.MANIFEST).read_text())
    assert manifest["input"] == [None, 32, 32, 1] and manifest["model"] == "sun_attention"
    assert manifest["outputs"] == ["attention", "logits", "probabilities"]
    for name in (export.STABLEHLO, export.VARIABLES, "preprocess.json"):
        assert (exported_dir / name).is_file()


def test_the_deserialised_function_at_any_batch_equals_the_restored_model(run, exported_dir):
    restored = restore.restore_model(run)
    exported = export.read_exported(exported_dir)
    variables = export.read_variables(exported_dir / export.VARIABLES, exported)
    jax.tree.map(np.testing.assert_array_equal, variables, jax.tree.map(np.asarray,
                                                                         restored.variables))
    for batch in (1, 3, 8):
        images = _images(batch, seed=batch)
        got, want = exported.call(variables, jnp.asarray(images)), restored.apply(images)
        np.testing.assert_allclose(got["logits"], want["logits"], atol=1e-5)
        np.testing.assert_allclose(got["attention"], want["attention"], atol=1e-5)
        np.testing.assert_allclose(got["probabilities"], jax.nn.softmax(want["logits"]),
                                   atol=1e-6)


def test_from_export_predicts_what_from_workdir_does(run, exported_dir):
    source = synth.FERSynthSource(synth.preset("front", **predict_run.SYNTH), seed=0,
                                  num_examples=None, split="test")
    images = [np.asarray(source[i]["image"]) for i in range(3)]
    a = Predictor.from_workdir(run, batch_size=2).predict(images, detect=False, explain=True)
    b = Predictor.from_export(exported_dir, batch_size=2).predict(images, detect=False,
                                                                  explain=True)
    assert Predictor.from_export(exported_dir).spec == Predictor.from_workdir(run).spec
    for x, y in zip(a, b):
        assert x["label"] == y["label"]
        assert list(y["probabilities"].values()) == pytest.approx(
            list(x["probabilities"].values()), abs=1e-5)
        np.testing.assert_allclose(y["attention"], x["attention"], atol=1e-5)


# Modules of ferjax's own that mean training code or the run's config were read; grain (the
# evaluation transform's base class) imports orbax.checkpoint itself, so orbax is checked as
# "nothing beyond what `import grain` loads" (docs/decisions.md, "Export").
_LOADED = ("import sys, json; {before}; "
           "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
           "('orbax', 'ml_collections') or m.startswith(('ferjax.train', 'ferjax.runs', "
           "'ferjax.evaluate', 'ferjax.configs')))))")


def _loaded(before: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", _LOADED.format(before=before)],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_loading_an_export_imports_no_training_code_or_config(exported_dir):
    loaded = _loaded("from ferjax.predict.predictor import Predictor; "
                     f"p = Predictor.from_export({str(exported_dir)!r}); "
                     "import numpy as np; p.classify(np.zeros((1, 2, 32, 32, 1), np.float32))")
    assert not {m for m in loaded if not m.startswith("orbax")}, loaded
    assert loaded <= _loaded("import grain")


def test_onnx_matches_the_jax_model_for_sun_attention(exported_dir):
    pytest.importorskip("jax2onnx")
    pytest.importorskip("onnxruntime")
    manifest = json.loads((exported_dir / export.MANIFEST).read_text())
    assert manifest["onnx"], manifest["onnx_reason"]
    exported = export.read_exported(exported_dir)
    variables = export.read_variables(exported_dir / export.VARIABLES, exported)
    model = (exported_dir / export.ONNX).read_bytes()
    for batch in (1, 5):
        assert export.onnx_max_difference(model, exported, variables, _images(batch)) < 1e-4


def test_onnx_matches_the_jax_model_for_vgg():
    pytest.importorskip("jax2onnx")
    pytest.importorskip("onnxruntime")
    model = build_model({"name": "vgg_fer", "width_multiplier": 0.125},
                        {"num_classes": 3, "image_shape": (32, 32, 1)})
    variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 1)), train=False)
    apply_fn = functools.partial(model.apply, train=False)
    exported = export.export_inference(apply_fn, variables, (32, 32), 1, platforms=("cpu",))
    model_bytes, reason = export.try_onnx(apply_fn, variables, exported, (32, 32), 1)
    assert reason is None
    assert export.onnx_max_difference(model_bytes, exported, variables, _images(4)) < 1e-4


def test_errors_name_the_problem(run, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export.export_run(tmp_path / "nowhere", tmp_path / "a")
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    for name in ("config.json", "data_stats.json"):
        shutil.copy(run / name, untrained / name)
    with pytest.raises(FileNotFoundError, match="no checkpoints/"):
        export.export_run(untrained, tmp_path / "b", onnx=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        export.export_run(run, tmp_path / "full")
    result = subprocess.run([sys.executable, "-m", "ferjax.export", f"--workdir={run}",
                             f"--out={tmp_path / 'full'}"], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: --out ")


def test_a_model_the_converter_rejects_gets_a_one_line_reason():
    pytest.importorskip("jax2onnx")
    pytest.importorskip("onnxruntime")
    model = build_model({"name": "sun_gap"}, {"num_classes": 3, "image_shape": (32, 32, 1)})
    variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 1)), train=False)
    apply_fn = functools.partial(model.apply, train=False)
    exported = export.export_inference(apply_fn, variables, (32, 32), 1, platforms=("cpu",))
    model_bytes, reason = export.try_onnx(apply_fn, variables, exported, (32, 32), 1)
    # docs/decisions.md, "Export": jax2onnx's jnp.full needs a constant batch size.
    assert model_bytes is None and "\n" not in reason
    assert reason.startswith("ONNX not written: jax2onnx cannot convert this model: "
                             "InconclusiveDimensionOperation")
