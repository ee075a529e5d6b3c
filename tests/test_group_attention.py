"""Sun et al. §4.6 / Fig. 7: the attention map of a group photo suppressed by soft face boxes."""

import json

import jax
import numpy as np
import pytest
from toy import toy_config

from ferjax import synth
from ferjax.data.pipeline import EvalTransform, ExampleSpec, Normalisation
from ferjax.explain import group_attention as ga
from ferjax.models.sun import SunAttention
from ferjax.runs import evaluators
from ferjax.synth.group import compose_group
from ferjax.train import loop

NORM = Normalisation((0.5,), (0.2,))


@pytest.fixture(scope="module")
def group():
    return compose_group(synth.preset("front"), seed=0, num_faces=4, size=(224, 512))


@pytest.fixture(scope="module")
def random_sun():
    """An untrained attention network (random init, BatchNorm at its initial statistics)."""
    model = SunAttention(num_classes=8, batch_norm=True)
    variables = model.init(jax.random.PRNGKey(0), np.zeros((1, 144, 112, 1), np.float32))
    return ga.jitted_apply(model.apply), variables


def test_soft_box_weights_are_one_at_the_centre_and_zero_far_outside():
    boxes = np.array([[20.0, 10.0, 60.0, 70.0], [100.0, 40.0, 140.0, 80.0]])
    for form, feather in (("feathered", 0.1), ("gaussian", 0.25)):
        w = ga.soft_box_weights(boxes, (120, 200), form, feather)
        assert w.shape == (120, 200) and w.dtype == np.float32
        assert 0.0 <= w.min() and w.max() <= 1.0
        assert w[39, 39] == pytest.approx(1.0, abs=5e-3)    # a pixel from the centre (40, 40)
        assert w[59, 119] == pytest.approx(1.0, abs=5e-3)   # next to the centre of box 1
        assert w[110, 190] < 1e-3 and w[5, 90] < 1e-3      # far outside both
    w = ga.soft_box_weights(boxes, (120, 200))
    # Feathered: exactly 1 deeper inside than 0.1 side, 0.5 on the edge, 0 beyond 0.1 side.
    assert np.all(w[20:60, 26:54] == 1.0)
    assert w[39, 19] + w[39, 20] == pytest.approx(1.0)  # ±0.5 px about the edge: 0.5 there
    assert w[39, 19] < 0.5 < w[39, 20]
    assert np.all(w[39, :15] == 0.0)                            # > 4 px (0.1 × 40) outside
    assert ga.soft_box_weights(np.zeros((0, 4)), (8, 9)).max() == 0.0


def test_overlapping_faces_combine_by_the_maximum():
    a, b = np.array([[0.0, 0.0, 30.0, 30.0]]), np.array([[20.0, 20.0, 50.0, 50.0]])
    both = ga.soft_box_weights(np.concatenate([a, b]), (60, 60))
    np.testing.assert_array_equal(
        both, np.maximum(ga.soft_box_weights(a, (60, 60)), ga.soft_box_weights(b, (60, 60))))
    assert both.max() <= 1.0


def test_bad_soft_box_options_fail():
    with pytest.raises(ValueError, match="form"):
        ga.soft_box_weights(np.zeros((1, 4)), (4, 4), form="hard")
    with pytest.raises(ValueError, match="feather"):
        ga.soft_box_weights(np.zeros((1, 4)), (4, 4), feather=0.0)


def test_box_mask_suppress_and_mass_by_hand():
    inside = ga.box_mask(np.array([[1.0, 0.0, 3.0, 1.0]]), (2, 4))
    np.testing.assert_array_equal(inside, [[False, True, True, False], [False] * 4])
    raw = np.full((2, 4), 1 / 8)
    weights = np.array([[0.0, 1.0, 1.0, 0.0], [0.0, 0.5, 0.5, 0.0]])
    np.testing.assert_allclose(ga.suppress(raw, weights), weights / 3)
    assert ga.mass_fraction(raw, inside) == pytest.approx(0.25)
    # No face found: nothing survives, and the score is 0, not NaN.
    nothing = ga.suppress(raw, ga.soft_box_weights(np.zeros((0, 4)), (2, 4)))
    assert not nothing.any() and ga.mass_fraction(nothing, inside) == 0.0


def test_prepare_image_is_the_runs_preprocessing():
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    spec = ExampleSpec(crop_size=(20, 30), channels=1, label_table=(0,))
    record = {"image": image, "label": np.int64(0)}
    np.testing.assert_allclose(ga.prepare_image(image, 1, NORM),
                               EvalTransform(spec, NORM).map(record)["image"], atol=1e-6)
    # A per-pixel normalisation (mean and std images) falls back to its spatial mean.
    per_pixel = Normalisation(tuple(map(tuple, np.full((4, 5, 1), 0.5).tolist())),
                              tuple(map(tuple, np.full((4, 5, 1), 0.2).tolist())))
    np.testing.assert_allclose(ga.prepare_image(image, 1, per_pixel),
                               ga.prepare_image(image, 1, NORM), atol=1e-6)


def test_synthetic_group_is_deterministic_and_its_boxes_hold_the_faces(group):
    image, boxes = group
    again, boxes_again = compose_group(synth.preset("front"), seed=0, num_faces=4, size=(224, 512))
    np.testing.assert_array_equal(image, again)
    np.testing.assert_array_equal(boxes, boxes_again)
    assert image.shape == (224, 512, 1) and image.dtype == np.uint8 and boxes.shape == (4, 4)
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= 512) and np.all(boxes[:, 3] <= 224)
    assert np.all(boxes[1:, 0] >= boxes[:-1, 2])  # side by side, no overlap
    assert not np.array_equal(image, compose_group(synth.preset("front"), seed=1)[0])


def test_suppressed_map_of_an_untrained_network_lies_in_the_faces(group, random_sun):
    image, boxes = group
    apply, variables = random_sun
    out = ga.group_attention(apply, variables, image, boxes, 1, NORM)
    for key in ("raw", "weights", "suppressed", "inside"):
        assert out[key].shape == (224, 512)
    assert out["raw"].sum() == pytest.approx(1.0, rel=1e-4)
    assert out["suppressed"].sum() == pytest.approx(1.0, rel=1e-4)
    assert out["mass_suppressed"] > 0.9
    assert out["mass_suppressed"] > out["mass_raw"] + 0.3
    assert out["box_area"] == pytest.approx(out["inside"].mean())


@pytest.mark.parametrize("size", [(100, 173), (64, 240), (250, 90)])
def test_any_image_size_gives_maps_at_image_resolution(group, random_sun, size):
    image, boxes = group
    apply, variables = random_sun
    crop = np.pad(image, ((0, 40), (0, 0), (0, 0)), mode="edge")[:size[0], :size[1]]
    raw = ga.raw_attention(apply, variables, ga.prepare_image(crop, 1, NORM))
    assert raw.shape == size and raw.sum() == pytest.approx(1.0, rel=1e-4)
    out = ga.group_attention(apply, variables, crop, boxes, 1, NORM, form="gaussian",
                             feather=0.25)
    assert out["suppressed"].shape == size and out["weights"].shape == size


def test_a_model_without_an_attention_map_is_refused():
    with pytest.raises(ValueError, match="no 'attention' output"):
        ga.raw_attention(lambda v, x, train: {"logits": x}, None, np.zeros((16, 16, 1)))


def test_check_accepts_the_evaluator_type():
    config = toy_config()
    config.evals = {"group": {"type": "group_attention"}}
    evaluators.check(config)
    assert "group_attention" in evaluators.names()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    config = toy_config(steps=2)
    return loop.train(config, tmp_path_factory.mktemp("run"))


def test_evaluator_runs_host_local_on_a_tiny_run_and_writes_its_files(trained, tmp_path):
    config = trained.config.copy_and_resolve_references()
    config.evals = {"group": {"type": "group_attention", "size": (112, 256), "num_faces": 2}}
    # run_all runs it inside a host-local section: a collective there would raise.
    results = evaluators.run_all(config, trained, tmp_path)
    summary = json.loads((tmp_path / "group_attention.json").read_text())
    assert (tmp_path / "figures" / "group_attention.png").stat().st_size > 0
    assert results["group"]["mean_mass_suppressed"] == pytest.approx(summary["mean_mass_suppressed"])
    [photo] = summary["images"]
    assert photo["boxes"] == "composition" and photo["num_faces"] == 2
    assert photo["size"] == [112, 256]
    assert photo["mass_suppressed"] > photo["mass_raw"]
    # detect_synthetic: MTCNN's boxes instead of the composition's (it may miss pasted faces).
    summary = evaluators.get("group_attention")(evaluators.EvalTarget(trained), tmp_path,
                                                size=(112, 256), num_faces=2,
                                                detect_synthetic=True)
    assert summary["images"][0]["boxes"] == "mtcnn"
    assert summary["images"][0]["known_faces"] == 2


def test_evaluator_detects_faces_with_mtcnn_in_a_folder(trained, tmp_path):
    from PIL import Image
    from skimage import data

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(data.astronaut()).save(photos / "astronaut.png")
    (photos / "notes.txt").write_text("not an image")
    summary = evaluators.get("group_attention")(evaluators.EvalTarget(trained), tmp_path,
                                                images_dir=str(photos), max_side=256)
    [photo] = summary["images"]
    assert photo["boxes"] == "mtcnn" and photo["num_faces"] >= 1
    assert photo["size"] == [256, 256] and photo["known_faces"] is None
    assert (tmp_path / "figures" / "group_attention.png").exists()
    with pytest.raises(FileNotFoundError, match="not a folder"):
        evaluators.get("group_attention")(evaluators.EvalTarget(trained), tmp_path,
                                          images_dir=str(tmp_path / "missing"))


def test_sun_config_argument_group_adds_the_evaluator():
    from ferjax.configs import sun

    config = sun.get_config("sun_attention", "group,runlocal")
    assert config.evals.group_attention.type == "group_attention"
    evaluators.check(config)
    assert "group_attention" not in sun.get_config("sun_attention", "runlocal").evals
    with pytest.raises(ValueError, match="group needs sun_attention"):
        sun.get_config("sun_baseline", "group")
