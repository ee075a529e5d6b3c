"""Real-data details: strict JSON, face margin and the tight preset, reuse of built-in builder
configs, the dataset's own label space, CK+48 subject folds, and dropping train/eval copies."""

import json
import math

import numpy as np
import pytest

from ferjax import files, labels
from ferjax.configs import pieces
from ferjax.data import builders, pipeline, sources
from ferjax.data.real import face
from ferjax.datasets.ckplus import layout as ckplus_layout
from ferjax.datasets.class_folder import layout as class_folder_layout
from tests import real_trees, toy


def _strict_load(text):
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


def test_write_json_turns_non_finite_numbers_into_null(tmp_path):
    obj = {"nan": float("nan"), "inf": np.float32(np.inf), "ninf": -math.inf, "ok": np.float64(0.5),
           "array": np.array([1.0, np.nan]), "nested": [{"x": np.int64(3)}], "tuple": (1, 2)}
    path = files.write_json(tmp_path / "r.json", obj)
    assert _strict_load(path.read_text()) == {
        "nan": None, "inf": None, "ninf": None, "ok": 0.5, "array": [1.0, None],
        "nested": [{"x": 3}], "tuple": [1, 2]}
    assert not list(tmp_path.glob("*.tmp"))


def test_metrics_lines_are_strict_json(tmp_path):
    from ferjax.train import writers
    writer = writers.MetricWriter(tmp_path)
    writer.write(3, "train", {"loss": float("nan"), "accuracy": 0.25})
    writer.close()
    line = _strict_load((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert line == {"step": 3, "split": "train", "loss": None, "accuracy": 0.25}


def test_box_window_grows_by_the_margin_on_each_side():
    box = np.array([10.0, 10.0, 20.0, 20.0])
    assert face.face_window((100, 100), box, 1.0, margin=0.5) == (0.0, 0.0, 40.0, 40.0)
    assert face.face_window((100, 100), box, 1.0, margin=0.0) == (10.0, 10.0, 20.0, 20.0)
    # The default is the old fixed context: 20 % of the box side on each side.
    assert face.face_window((100, 100), box, 1.0) == pytest.approx((6.0, 6.0, 28.0, 28.0))
    image = np.zeros((100, 100, 1), np.uint8)
    image[10:30, 10:30] = 200
    tight = face.crop_face(image, None, box, face.FaceOptions(8, grey=True, crop="box",
                                                               crop_margin=0.0))
    wide = face.crop_face(image, None, box, face.FaceOptions(8, grey=True, crop="box",
                                                              crop_margin=0.5))
    assert tight.image.min() == 200                 # the box fills the output
    assert wide.image[0, 0, 0] == 0 and wide.image[4, 4, 0] == 200


def test_face_margin_is_validated_and_tight_fixes_it():
    assert face.FaceOptions(crop="tight").margin == face.TIGHT_MARGIN == 0.0
    assert face.FaceOptions(crop="detect", crop_margin=0.35).margin == 0.35
    with pytest.raises(ValueError, match=r"crop_margin=-0.1: expected a number in \[0, 10\)"):
        face.FaceOptions(crop="detect", crop_margin=-0.1)
    with pytest.raises(ValueError, match="crop='tight' fixes the face margin at 0.0; for "
                                         "crop_margin=0.4 use crop='detect'"):
        face.FaceOptions(crop="tight", crop_margin=0.4)


@pytest.mark.parametrize("crop, margin, mode, expected", [
    ("tight", face.DEFAULT_MARGIN, "detect", 0.0),
    ("detect", 0.45, "detect", 0.45),
    ("landmarks", 0.1, "landmarks", 0.1),
])
def test_delegated_crops_pass_mode_and_margin_to_the_face_preprocessor(
        monkeypatch, crop, margin, mode, expected):
    from ferjax.preprocess import pipeline as preprocess
    seen = []
    monkeypatch.setattr(preprocess, "FacePreprocessor", lambda config: seen.append(config))
    face.make_face_preprocessor(face.FaceOptions(48, grey=True, crop=crop, crop_margin=margin))
    assert (seen[0].mode, seen[0].margin, seen[0].output_size) == (mode, expected, (48, 48))


def test_builder_arguments_equal_to_a_built_in_config_reuse_it(tmp_path):
    ckplus = builders.builder_class("ckplus")
    assert ckplus(config="default", peak_frames=1, data_dir=tmp_path).builder_config.name == "peak1"
    folders = builders.builder_class("class_folder")
    # As they arrive from a JSON or command-line config: lists, not tuples.
    ck48 = folders(config="default", data_dir=tmp_path, image_size=48, grey=True,
                   subject_pattern=r"^S(\d{3})_", num_folds=10,
                   class_map=[list(p) for p in class_folder_layout.CK48_FOLDERS.items()])
    assert ck48.builder_config.name == "ck48"
    other = folders(config="default", data_dir=tmp_path, image_size=48, grey=True)
    assert other.builder_config.name == "default-grey_True-image_size_48"


def test_label_space_follows_the_dataset():
    assert pieces.dataset_label_space("fer2013") == "seven"
    assert pieces.dataset_label_space("fer2013", "ferplus") == "canonical8"
    assert pieces.dataset_label_space("jaffe") == "seven"
    assert pieces.dataset_label_space("ckplus") == "canonical8"
    assert pieces.dataset_label_space("rafd", "front") == "seven"
    assert pieces.dataset_label_space("rafd", "front_contempt") == "canonical8"
    assert pieces.dataset_label_space("affectnet", "csv7") == "seven"
    assert pieces.dataset_label_space("class_folder", "fer2013_folders") == "seven"
    assert builders.builder_class("class_folder").label_classes("ck48") == tuple(
        c for c in labels.CLASSES if c != "neutral")
    from ferjax.configs import feratt, sun_attention
    assert sun_attention.get_config("data=fer2013").data.label_space == "seven"
    assert sun_attention.get_config("data=fer2013,classes=8").data.label_space == "canonical8"
    assert sun_attention.get_config(None).data.label_space == "canonical8"   # FERSynth: 8
    assert feratt.get_config("data=jaffe").data.label_space == "seven"
    with pytest.raises(ValueError, match="classes=5; expected 0 .the dataset's., 7 or 8"):
        sun_attention.get_config("classes=5")


def _ckplus_subjects(root, subjects):
    for s in subjects:
        seq = root / "cohn-kanade-images" / f"S{s:03d}" / "001"
        for i in range(1, 5):
            real_trees.write_image(seq / f"S{s:03d}_001_{i:08d}.png", i)
        emotion = root / "Emotion" / f"S{s:03d}" / "001"
        emotion.mkdir(parents=True)
        (emotion / f"S{s:03d}_001_00000004_emotion.txt").write_text("5.0\n")


def _ck48_subjects(root, subjects):
    for s in subjects:
        for i in range(2, 5):
            real_trees.write_image(root / "happy" / f"S{s:03d}_001_{i:08d}.png", i)


def test_ck48_folds_are_ckplus_s_number_folds(tmp_path):
    subjects = [5, 10, 11, 14, 22, 26, 29, 32, 34, 37, 42, 44, 45, 46, 50, 52, 53, 55, 56, 57, 58,
                59, 60, 61]
    _ckplus_subjects(tmp_path / "ckplus", subjects)
    _ck48_subjects(tmp_path / "ck48", subjects)
    original = ckplus_layout.parse(tmp_path / "ckplus")
    derived = class_folder_layout.parse(tmp_path / "ck48", class_folder_layout.CK48_FOLDERS,
                                        r"^S(\d{3})_", num_folds=10)

    def fold_of(parsed):
        return {e.subject_id: e.fold for e in parsed.splits["train"]}
    assert fold_of(derived) == fold_of(original)
    assert sorted(fold_of(derived)) == subjects              # ids are the S-numbers
    assert sorted(set(fold_of(derived).values())) == list(range(10))
    assert fold_of(derived)[5] == fold_of(derived)[10] == fold_of(derived)[11] == 0  # 24 = 3+3+3+3+2·6
    protocol = builders.protocol("class_folder", "ck48")
    assert (protocol.kind, protocol.num_folds) == ("folds", 10)
    data, kind = pieces.real_data("class_folder", "ck48", image_size=48)
    assert kind == "kfold" and data.cv_split == "train" and data.num_folds == 10


def test_class_folder_folds_need_every_subject(tmp_path):
    real_trees.write_image(tmp_path / "happy/S005_001_00000001.png", 1)
    real_trees.write_image(tmp_path / "happy/S006_001_00000001.png", 1)
    real_trees.write_image(tmp_path / "sad/x.png", 2)
    with pytest.raises(ValueError, match=r"1 images under .* have no subject \(e.g. .*x.png\)"):
        class_folder_layout.parse(tmp_path, None, r"^S(\d{3})_|^(x)", num_folds=2)


def test_dedup_drops_training_copies_of_evaluation_images(tmp_path):
    train = toy.toy_records(20, seed=1)
    evaluation = toy.toy_records(6, seed=2)
    train[3] = dict(train[3], image=evaluation[0]["image"].copy())
    train[7] = dict(train[7], image=evaluation[4]["image"].copy())
    train[8] = dict(train[8], image=evaluation[4]["image"].copy())
    cfg = toy.toy_config().data
    cfg.records = {"train": sources.ListSource(train), "validation": sources.ListSource(evaluation)}
    kept = pipeline.build_data(cfg, seed=0)
    assert kept.info["train_size"] == 20 and "dedup_dropped" not in kept.info
    cfg.dedup = True
    data = pipeline.build_data(cfg, seed=0)
    assert data.info["train_size"] == 17 and data.info["dedup_dropped"] == 3
    assert list(data.train.indices) == [i for i in range(20) if i not in (3, 7, 8)]
