"""Full tfds builds of a few builders on fixture trees (array_record, no TensorFlow), the
prepare report, and what a crash mid-generation leaves behind. Every builder's configs and
features are checked without building."""

import json
import logging

import numpy as np
import pytest
import real_trees
import tensorflow_datasets as tfds

from ferjax import labels
from ferjax.data import builders
from ferjax.data.real import builder as real_builder
from ferjax.data.real import face
from ferjax.data.real.errors import MissingManualFile
from ferjax.data.real.report import REPORT_NAME

N, H, SA, SU, F, D, A, C = range(8)


def build(name, config, manual_dir, data_dir):
    b = builders.builder_class(name)(config=config, data_dir=str(data_dir), file_format="array_record")
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return b


def records(b, split):
    source = b.as_data_source()[split]
    return [source[i] for i in range(len(source))]


@pytest.fixture(scope="module")
def fer(tmp_path_factory):
    root = tmp_path_factory.mktemp("fer")
    return build("fer2013", "fer2013", real_trees.fer2013_tree(root / "manual"), root / "data")


def test_fer2013_records_and_splits(fer):
    assert {s: len(v) for s, v in fer.as_data_source().items()} == {"train": 2, "validation": 1, "test": 1}
    train = sorted(records(fer, "train"), key=lambda r: int(r["label"]))
    assert [int(r["label"]) for r in train] == [N, A]
    image = train[0]["image"]
    assert image.dtype == np.uint8 and image.shape == (48, 48, 1) and (image == 20).all()
    assert int(train[0]["subject_id"]) == -1 and int(train[0]["fold"]) == -1
    assert train[0]["landmarks"].shape == (68, 2) and np.isnan(train[0]["landmarks"]).all()
    assert fer.info.features["label"].names == list(labels.CLASSES)


def test_fer2013_report_lists_corrupt_row_and_duplicate(fer):
    report = json.loads((fer.data_path / REPORT_NAME).read_text())
    assert report["written"] == {"train": 2, "validation": 1, "test": 1}
    assert report["skipped_count"] == 1
    assert report["skipped"][0]["source"].endswith("fer2013.csv:6")
    assert "3 pixels, expected 2304" in report["skipped"][0]["reason"]
    assert report["cross_split_duplicates"] == [[{"split": "train", "key": "row00000"},
                                                 {"split": "validation", "key": "row00002"}]]


def test_ckplus_build_carries_landmarks_aus_and_subjects(tmp_path):
    from ferjax.datasets.ckplus.ckplus_dataset_builder import CKPlusConfig
    config = CKPlusConfig(name="tiny", image_size=4, grey=True)
    b = build("ckplus", config, real_trees.ckplus_tree(tmp_path / "m"), tmp_path / "d")
    recs = records(b, "train")
    assert len(recs) == 8
    assert sorted({int(r["subject_id"]) for r in recs}) == [5, 10]
    (peak,) = [r for r in recs if not np.isnan(r["landmarks"]).all()]
    assert int(peak["label"]) == D and peak["image"].shape == (4, 4, 1)
    np.testing.assert_allclose(peak["landmarks"][3], [4.0 * 0.5, 7.0 * 0.5])  # 8 px -> 4 px
    assert peak["au"][8] == pytest.approx(0.8)
    colour = [r for r in recs if int(r["subject_id"]) == 10]
    assert all(r["image"].shape == (4, 4, 1) for r in colour)  # RGB frames converted to grey


def test_affectnet_box_crop_build(tmp_path):
    from ferjax.datasets.affectnet.affectnet_dataset_builder import AffectNetConfig
    config = AffectNetConfig(name="tiny", image_size=8, crop="box", release="csv", classes=8)
    b = build("affectnet", config, real_trees.affectnet_csv_tree(tmp_path / "m"), tmp_path / "d")
    (happy,) = [r for r in records(b, "train") if int(r["label"]) == H]
    side = round(16 * 1.4)
    np.testing.assert_allclose(happy["box"][2:], [16 * 8 / side] * 2, rtol=1e-5)
    assert happy["image"].shape == (8, 8, 3) and happy["valence"] == pytest.approx(0.5)
    (sad,) = records(b, "validation")
    assert np.isnan(sad["valence"]) and int(sad["label"]) == SA
    report = json.loads((b.data_path / REPORT_NAME).read_text())
    assert report["excluded"] == {"code 9 (uncertain)": 1}


def test_truncated_jpeg_is_skipped_counted_listed_and_logged(tmp_path, caplog):
    manual = tmp_path / "m"
    real_trees.write_image(manual / "happy/ok.jpg", 100, mode="RGB", fmt="JPEG")
    real_trees.write_truncated_jpeg(manual / "sad/bad.jpg")
    from ferjax.datasets.class_folder.class_folder_dataset_builder import ClassFolderConfig
    with caplog.at_level(logging.INFO, logger="ferjax.data.real"):
        b = build("class_folder", ClassFolderConfig(name="tiny", image_size=8), manual, tmp_path / "d")
    assert [int(r["label"]) for r in records(b, "train")] == [H]
    report = json.loads((b.data_path / REPORT_NAME).read_text())
    assert report["skipped_count"] == 1 and report["skipped"][0]["key"] == "sad/bad.jpg"
    assert "truncated" in report["skipped"][0]["reason"]
    assert "skipped 1 unreadable" in caplog.text and "sad/bad.jpg" in caplog.text


def test_crash_mid_generation_leaves_no_complete_looking_dataset(tmp_path, monkeypatch):
    manual = tmp_path / "m"
    for i in range(4):
        real_trees.write_image(manual / "happy" / f"{i}.png", i)
    calls = []

    def exploding(options):
        def fn(image, landmarks, box):
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("disk full")
            return face.crop_face(image, landmarks, box, options)
        return fn
    monkeypatch.setattr(real_builder, "make_face_preprocessor", exploding)
    from ferjax.datasets.class_folder.class_folder_dataset_builder import ClassFolderConfig
    config = ClassFolderConfig(name="tiny", image_size=8)
    with pytest.raises(RuntimeError, match="disk full"):
        build("class_folder", config, manual, tmp_path / "d")
    leftovers = [p.name for p in (tmp_path / "d").rglob("*") if p.is_file()]
    assert "dataset_info.json" not in leftovers and REPORT_NAME not in leftovers
    assert not any(".array_record" in name for name in leftovers)
    assert not (tmp_path / "d" / "class_folder" / "tiny" / "1.0.0").exists()
    fresh = builders.builder_class("class_folder")(config=config, data_dir=str(tmp_path / "d"))
    assert not fresh.is_prepared()


def test_missing_manual_file_error_names_path(tmp_path):
    manual = tmp_path / "m"
    manual.mkdir()
    (manual / "readme.txt").write_text("x")
    with pytest.raises(MissingManualFile, match=f"missing {manual / 'fer2013.csv'}: put fer2013.csv"):
        build("fer2013", "fer2013", manual, tmp_path / "d")
    assert not (tmp_path / "d" / "fer2013" / "fer2013" / "1.0.0").exists()


EXTRAS = {"ckplus": {"au"}, "rafd": {"view"}, "kdef": {"view"}, "bu3dfe": {"intensity"},
          "happei": {"intensity"}, "affectnet": {"box", "valence", "arousal"}}


REAL_BUILDERS = [n for n in builders.available() if n != "fersynth"]  # fersynth: rendered here


@pytest.mark.parametrize("name", REAL_BUILDERS)
def test_every_builder_config_declares_the_record_contract(name, tmp_path):
    cls = builders.builder_class(name)
    assert len(cls.MANUAL_DOWNLOAD_INSTRUCTIONS.strip()) > 50
    for config in cls.BUILDER_CONFIGS:
        b = cls(config=config.name, data_dir=str(tmp_path))
        features = b.info.features
        size, channels = config.image_size, 1 if config.grey else 3
        assert features["image"].shape == (size, size, channels)
        assert features["image"].np_dtype == np.uint8
        assert features["landmarks"].shape == (68, 2)
        assert {"label", "subject_id", "fold"} <= set(features)
        expected_extra = EXTRAS.get(name, set()) | (
            {"soft_label"} if getattr(config, "ferplus", False) else set())
        assert set(features) - {"image", "label", "subject_id", "fold", "landmarks"} == expected_extra


def test_mask_feature_only_with_landmark_crops(tmp_path):
    from ferjax.datasets.jaffe.jaffe_dataset_builder import Builder
    config = real_builder.RealConfig(name="m", crop="landmarks", mask=True, image_size=16)
    features = Builder(config=config, data_dir=str(tmp_path)).info.features
    assert features["mask"].shape == (16, 16, 1)


def test_keyword_overrides_derive_a_named_config(tmp_path):
    cls = builders.builder_class("rafd")
    b = cls(config="front", image_size=16, grey=True, data_dir=str(tmp_path))
    assert b.builder_config.name == "front-grey_True-image_size_16"
    assert b.builder_config.cameras == (90,) and b.info.features["image"].shape == (16, 16, 1)
    assert b.builder_config.description == "front with grey=True, image_size=16"
    # A default spelt out is no variant: same config, same folder.
    default = cls(crop="none", image_size=128, data_dir=str(tmp_path))
    assert default.builder_config is cls.BUILDER_CONFIGS[0]
    wide = cls(crop="detect", image_size=[160, 125], data_dir=str(tmp_path))
    assert wide.builder_config.name == "front-crop_detect-image_size_160_125"
    assert wide.info.features["image"].shape == (160, 125, 3)
    with pytest.raises(TypeError):
        cls(config="front", colour="x", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"unknown config fields \['colour'\]"):
        real_builder.derived_config(cls.BUILDER_CONFIGS[0], {"colour": "x"})
    with pytest.raises(ValueError, match="crop='mtcnn'"):
        cls(config="front", crop="mtcnn", data_dir=str(tmp_path)).info


class _FakePreprocessConfig:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class _FakeFacePreprocessor:
    """Follows ferjax.preprocess.pipeline's contract: dark images count as 'no face found'."""
    made = []

    def __init__(self, config):
        self.made.append(config)
        self.config = config

    def __call__(self, image, landmarks=None):
        h, w = self.config.output_size
        out = np.full((h, w, self.config.channels), int(image.mean()), np.uint8)
        return {"image": out, "landmarks": np.full((68, 2), np.nan, np.float32),
                "mask": np.full((h, w, 1), 255, np.uint8), "detected": image.mean() > 50}


def test_detect_mode_delegates_to_face_preprocessor_and_reports_fallbacks(tmp_path, monkeypatch):
    import types
    fake = types.ModuleType("ferjax.preprocess.pipeline")
    fake.PreprocessConfig, fake.FacePreprocessor = _FakePreprocessConfig, _FakeFacePreprocessor
    monkeypatch.setitem(__import__("sys").modules, "ferjax.preprocess.pipeline", fake)
    manual = tmp_path / "m"
    real_trees.write_image(manual / "happy/bright.png", 200)
    real_trees.write_image(manual / "happy/dark.png", 10)
    cls = builders.builder_class("class_folder")
    b = cls(config="default", crop="detect", mask=True, grey=True, image_size=8,
            illumination="isotropic", data_dir=str(tmp_path / "d"))
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    (config,) = _FakeFacePreprocessor.made  # one preprocessor per run
    assert (config.output_size, config.channels, config.mode, config.illumination) == (
        (8, 8), 1, "detect", "isotropic")
    recs = records(b, "train")
    assert all(r["mask"].shape == (8, 8, 1) and (r["mask"] == 255).all() for r in recs)
    report = json.loads((b.data_path / REPORT_NAME).read_text())
    assert report["detection_fallbacks"] == {"train": 1}


def test_all_unreadable_split_is_a_clear_error_and_empty_splits_are_reported(tmp_path):
    manual = tmp_path / "m"
    real_trees.write_image(manual / "train/happy/a.png", 1)
    real_trees.write_truncated_jpeg(manual / "test/happy/b.jpg")
    with pytest.raises(ValueError, match="split 'test': none of its 1 images could be read; e.g. .*b.jpg"):
        build("class_folder", "default", manual, tmp_path / "d")
    # FER+ with every PublicTest row excluded: the empty split is left out and reported.
    root = real_trees.fer2013_tree(tmp_path / "f", bad_row=False)
    real_trees.ferplus_csv(root)
    rows = (root / "fer2013new.csv").read_text().splitlines()
    (root / "fer2013new.csv").write_text("\n".join(rows[:5]) + "\n")  # 4 rows, as fer2013.csv
    b = build("fer2013", "ferplus", root, tmp_path / "fd")
    assert set(b.as_data_source()) == {"train", "test"}
    report = json.loads((b.data_path / REPORT_NAME).read_text())
    assert report["empty_splits"] == ["validation"]
