"""FacePreprocessor: the record contract, each mode, fallbacks and config validation."""

import cv2
import numpy as np
import pytest
from skimage import data

from ferjax.preprocess import align
from ferjax.preprocess.mtcnn import MTCNN
from ferjax.preprocess.pipeline import FacePreprocessor, PreprocessConfig


@pytest.fixture(scope="module")
def detector():
    return MTCNN()


def synthetic_landmarks(points5, rng):
    """68 iBUG points whose derived 5 points (eye centres, nose tip, mouth corners) are points5."""
    landmarks = rng.uniform(points5.min(0), points5.max(0), (68, 2))
    ring = np.array([[-6, 0], [-3, -2], [3, -2], [6, 0], [3, 2], [-3, 2]], float)  # mean 0
    landmarks[36:42] = points5[0] + ring
    landmarks[42:48] = points5[1] + ring
    landmarks[30], landmarks[48], landmarks[54] = points5[2], points5[3], points5[4]
    return landmarks.astype(np.float32)


def test_landmarks_mode_maps_points_onto_template():
    rng = np.random.default_rng(0)
    config = PreprocessConfig(output_size=(144, 112), channels=1, mode="landmarks", margin=0.1)
    template = align.template_in_output(np.asarray(config.template), (144, 112), 0.1)
    # the face in the source image: the template under a known similarity, rotated and larger
    inverse = np.array([[1.8, -0.6, 60.0], [0.6, 1.8, 30.0]])
    landmarks = synthetic_landmarks(align.transform_points(template, inverse).astype(float), rng)
    image = rng.integers(0, 256, (400, 380, 3), dtype=np.uint8)
    record = FacePreprocessor(config)(image, landmarks)
    assert record["detected"] is True
    assert record["image"].shape == (144, 112, 1) and record["image"].dtype == np.uint8
    assert record["landmarks"].shape == (68, 2) and record["landmarks"].dtype == np.float32
    np.testing.assert_allclose(align.five_points_from_68(record["landmarks"]), template,
                               atol=1e-3)
    mask = record["mask"]
    assert mask.shape == (144, 112, 1) and mask.dtype == np.uint8
    inside = np.round(record["landmarks"]).astype(int)
    inside = inside[(inside >= 0).all(1) & (inside[:, 0] < 112) & (inside[:, 1] < 144)]
    assert (mask[inside[:, 1], inside[:, 0], 0] == 255).all()
    assert 0 < (mask > 0).mean() < 1


def test_none_mode_resizes_and_scales_landmarks():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (100, 200, 3), dtype=np.uint8)
    landmarks = rng.uniform(10, 90, (68, 2)).astype(np.float32)
    record = FacePreprocessor(PreprocessConfig(output_size=(50, 50), channels=3, mode="none"))(
        image, landmarks)
    assert record["detected"] is False
    np.testing.assert_array_equal(record["image"],
                                  cv2.resize(image, (50, 50), interpolation=cv2.INTER_AREA))
    expected = (landmarks + 0.5) * [50 / 200, 50 / 100] - 0.5
    np.testing.assert_allclose(record["landmarks"], expected, atol=1e-4)


def test_missing_landmarks_fall_back_to_whole_image():
    image = np.random.default_rng(2).integers(0, 256, (60, 80, 1), dtype=np.uint8)
    preprocess = FacePreprocessor(PreprocessConfig(output_size=(32, 32), mode="landmarks"))
    for landmarks in (None, np.full((68, 2), np.nan, np.float32)):
        record = preprocess(image, landmarks)
        assert record["detected"] is False
        assert np.isnan(record["landmarks"]).all() and record["landmarks"].shape == (68, 2)
        np.testing.assert_array_equal(record["mask"], 255)
        np.testing.assert_array_equal(
            record["image"][..., 0], cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA))


def test_detect_mode_aligns_astronaut(detector):
    config = PreprocessConfig(output_size=(128, 128), channels=1, mode="detect",
                              illumination="isotropic")
    record = FacePreprocessor(config, detector=detector)(data.astronaut())
    assert record["detected"] is True
    image = record["image"]
    assert image.shape == (128, 128, 1) and image.dtype == np.uint8
    assert image.min() == 0 and image.max() == 255
    # re-detect on the aligned RGB crop: its eyes sit on the template's eyes
    rgb = FacePreprocessor(PreprocessConfig(output_size=(128, 128), channels=3, mode="detect"),
                           detector=detector)(data.astronaut())["image"]
    again = detector.detect(rgb)
    template = align.template_in_output(np.asarray(config.template), (128, 128), config.margin)
    np.testing.assert_allclose(again.points[0][:2], template[:2], atol=3.0)


def test_detect_mode_falls_back_when_no_face(detector):
    flat = np.full((90, 120, 3), 100, np.uint8)
    record = FacePreprocessor(PreprocessConfig(output_size=(64, 64)), detector=detector)(flat)
    assert record["detected"] is False
    np.testing.assert_array_equal(record["image"], 100)


@pytest.mark.parametrize("field, value, message", [
    ("output_size", (64,), "output_size"), ("channels", 2, "channels"),
    ("mode", "mtcnn", "mode"), ("illumination", "retinex", "illumination"),
    ("margin", -0.1, "margin"), ("template", ((0.5, 0.5),), "template"),
])
def test_config_errors_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=f"PreprocessConfig.{message}"):
        PreprocessConfig(**{"mode": "none", field: value})


def test_bad_inputs_are_rejected():
    preprocess = FacePreprocessor(PreprocessConfig(mode="none"))
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        preprocess(np.zeros((10, 10, 3), np.uint8), np.zeros((5, 2), np.float32))
