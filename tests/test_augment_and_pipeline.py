import numpy as np
import pytest

from ferjax.data import augment, pipeline, sources, splits


def _face_like_landmarks():
    rng = np.random.default_rng(0)
    return rng.uniform(5, 30, (68, 2)).astype(np.float32)


def test_horizontal_flip_mirrors_pixels_and_landmarks_consistently():
    img = np.zeros((10, 8, 1), np.float32)
    img[2, 1] = 1.0
    lm = np.tile(np.array([[1.0, 2.0]], np.float32), (68, 1))
    lm[36] = [1.0, 2.0]
    lm[45] = [6.0, 2.0]
    out = augment.horizontal_flip({"image": img, "landmarks": lm})
    assert out["image"][2, 6, 0] == 1.0          # x -> W - 1 - x
    np.testing.assert_allclose(out["landmarks"][45], [6.0, 2.0])  # old 36 is now right side
    np.testing.assert_allclose(out["landmarks"][36], [1.0, 2.0])
    twice = augment.horizontal_flip(out)
    np.testing.assert_array_equal(twice["image"], img)
    np.testing.assert_allclose(twice["landmarks"], lm)


def test_crop_moves_landmarks_with_the_pixels():
    img = np.zeros((20, 16, 1), np.float32)
    img[12, 9] = 1.0
    lm = np.full((68, 2), [9.0, 12.0], np.float32)
    out = augment.crop({"image": img, "landmarks": lm}, 5, 3, 10, 10)
    y, x = np.argwhere(out["image"][..., 0] == 1.0)[0]
    np.testing.assert_allclose(out["landmarks"][0], [x, y])


def test_crop_larger_than_image_names_the_field():
    with pytest.raises(ValueError, match="crop_size"):
        augment.center_crop({"image": np.zeros((8, 8, 1))}, 10, 8)


def test_rgb_to_grey_uses_luma_weights():
    img = np.array([[[255, 0, 0]]], np.uint8)
    np.testing.assert_allclose(pipeline.to_channels(img, 1), [[[0.299]]], rtol=1e-5)
    assert pipeline.to_channels(np.zeros((2, 2, 1), np.uint8), 3).shape == (2, 2, 3)


def _records(n, size=20):
    rng = np.random.default_rng(1)
    return [{"image": rng.integers(0, 255, (size, size, 1)).astype(np.uint8),
             "label": np.int64(i % 8), "fold": np.int64(i % 3)} for i in range(n)]


def test_normalisation_is_from_the_training_images():
    recs = _records(10)
    spec = pipeline.ExampleSpec((16, 16), 1, tuple(range(8)))
    norm = pipeline.estimate_normalisation(sources.ListSource(recs), spec, 100)
    crops = np.stack([r["image"][2:18, 2:18] / 255.0 for r in recs])
    assert norm.mean[0] == pytest.approx(crops.mean(), rel=1e-6)
    assert norm.std[0] == pytest.approx(crops.std(), rel=1e-5)


def test_per_pixel_normalisation_is_a_mean_and_a_std_image():
    recs = _records(10)
    spec = pipeline.ExampleSpec((16, 16), 1, tuple(range(8)))
    norm = pipeline.estimate_normalisation(sources.ListSource(recs), spec, 100, "per_pixel")
    crops = np.stack([r["image"][2:18, 2:18] / 255.0 for r in recs])
    np.testing.assert_allclose(np.asarray(norm.mean), crops.mean(0), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(norm.std), crops.std(0), rtol=1e-5)
    x = crops[3].astype(np.float32)
    np.testing.assert_allclose(norm.apply(x), (x - crops.mean(0)) / crops.std(0), rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(ValueError, match="config.data.normalisation"):
        pipeline.estimate_normalisation(sources.ListSource(recs), spec, 100, "per_image")


class _Draws:
    """Stands in for a Generator: uniform() and random() return scripted values in order."""

    def __init__(self, values):
        self._values = list(values)

    def uniform(self, low=0.0, high=1.0):
        return low + (high - low) * self._values.pop(0)

    def random(self):
        return self._values.pop(0)


@pytest.mark.parametrize("space", ["pixels", "standardised"])
def test_brightness_and_contrast_act_where_configured(space):
    record = _records(1)[0]
    spec = pipeline.ExampleSpec((20, 20), 1, tuple(range(8)))
    norm = pipeline.Normalisation((0.4,), (0.2,))
    transform = pipeline.TrainTransform(spec, norm, flip=False, random_crop=False,
                                        brightness=0.3, contrast=(0.2, 1.8),
                                        photometric_space=space)
    # δ = 0.3·(2·0.75 − 1) = 0.15, f = 0.2 + 1.6·0.25 = 0.6
    out = transform.random_map(record, _Draws([0.75, 0.25]))["image"]
    x = record["image"].astype(np.float32) / 255.0
    if space == "pixels":  # shift and scale the [0, 1] image, clip, then standardise
        shifted = x + 0.15
        expected = (np.clip((shifted - shifted.mean()) * 0.6 + shifted.mean(), 0, 1) - 0.4) / 0.2
    else:  # EmotionalDAN's code: ±0.3 in z-score units, no clipping
        z = (x - 0.4) / 0.2 + 0.15
        expected = (z - z.mean()) * 0.6 + z.mean()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="photometric_space"):
        pipeline.TrainTransform(spec, norm, flip=False, random_crop=False,
                                photometric_space="lab")


def test_random_crop_and_flip_move_the_pixels_of_a_textured_image():
    # A constant image would hide a wrong offset or a missing flip; a ramp shows both.
    h, w = 12, 10
    ramp = (np.arange(h)[:, None] * 16 + np.arange(w)[None, :]).astype(np.uint8)[..., None]
    spec = pipeline.ExampleSpec((8, 6), 1, tuple(range(8)))
    transform = pipeline.TrainTransform(spec, pipeline.Normalisation((0.0,), (1.0,)), flip=True,
                                        random_crop=True)
    rng = np.random.default_rng(3)
    for _ in range(6):
        state = rng.bit_generator.state
        top, left = int(rng.integers(0, 5)), int(rng.integers(0, 5))
        flipped = rng.random() < 0.5
        rng.bit_generator.state = state
        out = transform.random_map({"image": ramp, "label": np.int64(0)}, rng)["image"][..., 0]
        expected = ramp[top:top + 8, left:left + 6, 0] / 255.0
        np.testing.assert_allclose(out, expected[:, ::-1] if flipped else expected, rtol=1e-6)


def test_eval_batches_cover_every_example_once_with_zero_weight_padding():
    recs = _records(11)
    spec = pipeline.ExampleSpec((16, 16), 1, tuple(range(8)))
    transform = pipeline.EvalTransform(spec, pipeline.Normalisation((0.5,), (0.25,)))
    batches = list(pipeline.eval_batches(sources.ListSource(recs), transform,
                                         local_batch_size=4))
    assert len(batches) == 3
    weights = np.concatenate([b["weight"] for b in batches])
    assert weights.sum() == 11 and weights[-1] == 0
    labels = np.concatenate([b["label"] for b in batches])[:11]
    np.testing.assert_array_equal(labels, [i % 8 for i in range(11)])
    # two processes: same number of batches each, together every example once
    shares = [list(pipeline.eval_batches(sources.ListSource(recs), transform, local_batch_size=4,
                                         process_index=p, process_count=2)) for p in range(2)]
    assert len(shares[0]) == len(shares[1]) == 2
    assert sum(b["weight"].sum() for s in shares for b in s) == 11


def test_label_map_drops_classes_before_training():
    recs = _records(16)
    table = [0, 1, 2, 3, 4, 5, 6, -1]   # seven classes: contempt (7) dropped
    kept = pipeline.labelled_indices(sources.ListSource(recs), table)
    assert len(kept) == 14 and all(recs[i]["label"] != 7 for i in kept)


def test_process_shares_reassemble_the_single_process_batches():
    recs = _records(24)
    spec = pipeline.ExampleSpec((16, 16), 1, tuple(range(8)))
    transform = pipeline.TrainTransform(spec, pipeline.Normalisation((0.5,), (0.25,)),
                                        flip=True, random_crop=True)
    whole = iter(pipeline.train_dataset(sources.ListSource(recs), transform, seed=3,
                                        local_batch_size=8))
    parts = [iter(pipeline.train_dataset(sources.ListSource(recs), transform, seed=3,
                                         local_batch_size=4, process_index=p, process_count=2))
             for p in range(2)]
    for _ in range(4):  # crosses an epoch boundary
        expected = next(whole)
        got = [next(p) for p in parts]
        np.testing.assert_array_equal(np.concatenate([g["image"] for g in got]),
                                      expected["image"])


def test_train_iterator_resumes_from_its_state():
    recs = _records(24)
    spec = pipeline.ExampleSpec((16, 16), 1, tuple(range(8)))
    transform = pipeline.TrainTransform(spec, pipeline.Normalisation((0.5,), (0.25,)),
                                        flip=True, random_crop=True)
    make = lambda: iter(pipeline.train_dataset(sources.ListSource(recs), transform,  # noqa
                                               seed=5, local_batch_size=4))
    it = make()
    for _ in range(3):
        next(it)
    state = it.get_state()
    expected = [next(it)["image"] for _ in range(3)]
    resumed = make()
    resumed.set_state(state)
    for e in expected:
        np.testing.assert_array_equal(next(resumed)["image"], e)


def test_cross_validation_rejects_records_without_folds():
    recs = _records(6)
    recs[2]["fold"] = np.int64(-1)
    cfg = {"source": "memory", "records": {"all": sources.ListSource(recs)}, "fold": 0,
           "num_folds": 3, "cv_split": "all"}
    with pytest.raises(ValueError, match="no fold"):
        splits.train_eval_sources(cfg)
