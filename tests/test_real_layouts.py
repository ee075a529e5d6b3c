"""Layout parsers on tiny fixture trees: labels, subjects, folds, landmarks, split counts, and
the errors for missing files and unknown codes. No tfds build here (see test_real_builders)."""

import math

import numpy as np
import pytest
import real_trees

from ferjax.data.real import simple
from ferjax.data.real.errors import MissingManualFile
from ferjax.data.real.label_codes import LabelCodeError
from ferjax.datasets.affectnet import layout as affectnet
from ferjax.datasets.bu3dfe import layout as bu3dfe
from ferjax.datasets.ckplus import layout as ckplus
from ferjax.datasets.class_folder import layout as class_folder
from ferjax.datasets.fer2013 import layout as fer2013
from ferjax.datasets.happei.layout import intensity_label
from ferjax.datasets.ised import layout as ised
from ferjax.datasets.jaffe import layout as jaffe
from ferjax.datasets.kdef import layout as kdef
from ferjax.datasets.rafd import layout as rafd
from ferjax.datasets.rafdb import layout as rafdb
from ferjax.datasets.sfew import layout as sfew

N, H, SA, SU, F, D, A, C = range(8)


def by_key(parsed, split="train"):
    return {e.key: e for e in parsed.splits[split]}


def test_ckplus_peak_and_neutral_frames_landmarks_and_aus(tmp_path):
    parsed = ckplus.parse(real_trees.ckplus_tree(tmp_path))
    ex = by_key(parsed)
    assert sorted(ex) == [
        "S005/001/S005_001_00000001.png", "S005/001/S005_001_00000003.png",
        "S005/001/S005_001_00000004.png", "S005/001/S005_001_00000005.png",
        "S010/001/S010_001_00000001.png", "S010/001/S010_001_00000002.png",
        "S010/001/S010_001_00000003.png", "S010/001/S010_001_00000004.png"]
    assert [ex[k].label for k in sorted(ex)] == [N, D, D, D, N, SU, SU, SU]
    assert {e.subject_id for e in ex.values()} == {5, 10}
    assert parsed.excluded == {"sequences without an emotion file": 1}
    peak = ex["S005/001/S005_001_00000005.png"]
    np.testing.assert_allclose(peak.landmarks[3], [4.0, 7.0])  # offset 1 + i, 1 + 2i
    assert peak.landmarks.shape == (68, 2)
    assert ex["S005/001/S005_001_00000004.png"].landmarks is None
    au = peak.extras["au"]
    assert au.shape == (ckplus.NUM_AUS,) and au[8] == pytest.approx(0.8) and math.isnan(au[14])
    assert au[0] == 0.0 and np.isnan(ex["S005/001/S005_001_00000004.png"].extras["au"]).all()
    # two subjects, capped folds: subject-disjoint
    assert {e.fold for e in ex.values() if e.subject_id == 5} != {
        e.fold for e in ex.values() if e.subject_id == 10}
    assert peak.load().shape == (8, 8, 1) and ex["S010/001/S010_001_00000004.png"].load().shape == (8, 8, 3)


def test_ckplus_peak_count_and_no_neutral(tmp_path):
    parsed = ckplus.parse(real_trees.ckplus_tree(tmp_path), peak_frames=1, include_neutral=False)
    assert sorted(e.label for e in parsed.splits["train"]) == [SU, D]


def test_ckplus_unknown_emotion_code_names_file_and_line(tmp_path):
    root = real_trees.ckplus_tree(tmp_path)
    bad = root / "Emotion/S010/001/S010_001_00000004_emotion.txt"
    bad.write_text("   8.0000000e+00\n")
    with pytest.raises(LabelCodeError, match=f"{bad}:1: unknown CK\\+ label code 8"):
        ckplus.parse(root)


def test_ckplus_missing_archives_named(tmp_path):
    with pytest.raises(MissingManualFile, match="cohn-kanade-images or .*extended-cohn-kanade-images"):
        ckplus.parse(tmp_path)
    (tmp_path / "cohn-kanade-images").mkdir()
    with pytest.raises(MissingManualFile, match=f"missing {tmp_path / 'Emotion'}: unpack the CK\\+ Emotion"):
        ckplus.parse(tmp_path)


def test_ckplus_malformed_landmarks_named(tmp_path):
    root = real_trees.ckplus_tree(tmp_path)
    bad = root / "Landmarks/S005/001/S005_001_00000005_landmarks.txt"
    bad.write_text("1 2\n3 4\n")
    with pytest.raises(ValueError, match="shape \\(2, 2\\), expected \\(68, 2\\)"):
        ckplus.parse(root)


def test_jaffe_subjects_labels_loso_and_palette(tmp_path):
    parsed = jaffe.parse(real_trees.jaffe_tree(tmp_path))
    ex = by_key(parsed)
    got = {k: (e.label, e.subject_id, e.fold) for k, e in ex.items()}
    assert got == {"jaffe/KA.HA1.29.tiff": (H, 0, 0), "jaffe/KA.NE1.26.tiff": (N, 0, 0),
                   "jaffe/KL.SA1.39.tiff": (SA, 1, 1), "jaffe/YM.AN2.62.tiff": (A, 9, 2)}
    palette = ex["jaffe/KA.NE1.26.tiff"].load()
    assert palette.shape == (8, 8, 1) and (palette == 3).all()


def test_jaffe_unknown_expression_names_file(tmp_path):
    real_trees.write_image(tmp_path / "KA.XX1.1.tiff", 1)
    with pytest.raises(LabelCodeError, match="KA.XX1.1.tiff: unknown JAFFE label code 'XX'"):
        jaffe.parse(tmp_path)


def test_named_layout_with_no_matching_images_is_a_missing_file_error(tmp_path):
    real_trees.write_image(tmp_path / "other.png", 1)
    with pytest.raises(MissingManualFile, match="KA.AN1.39.tiff"):
        jaffe.parse(tmp_path)


def test_rafd_front_pose_contempt_and_sun_folds(tmp_path):
    root = real_trees.rafd_tree(tmp_path)
    front = rafd.parse(root, cameras=(90,))
    assert sorted((e.subject_id, e.label, e.fold) for e in front.splits["train"]) == [(1, A, 0), (16, H, 1)]
    assert front.excluded == {"camera angle not in this config": 2,
                              "contempt (include_contempt=False)": 1}
    pose = rafd.parse(root, include_contempt=True)
    got = sorted((e.subject_id, e.label, e.fold, int(e.extras["view"])) for e in pose.splits["train"])
    assert got == [(1, A, 0, 90), (16, H, 1, 90), (16, SU, 1, 45), (73, F, 4, 180), (73, C, 4, 90)]


def test_rafd_unknown_emotion_names_file(tmp_path):
    real_trees.write_image(tmp_path / "Rafd090_01_Caucasian_female_bored_frontal.jpg", 1)
    with pytest.raises(LabelCodeError, match="Rafd090_01_Caucasian_female_bored_frontal.jpg: unknown RaFD"):
        rafd.parse(tmp_path)


def test_kdef_subjects_views_and_front_config(tmp_path):
    root = real_trees.kdef_tree(tmp_path)
    all_views = kdef.parse(root)
    got = sorted((e.subject_id, e.label, int(e.extras["view"])) for e in all_views.splits["train"])
    # AF01 and BM01 are different people (female 1, male 1); sessions A and B are one person.
    assert got == [(1, H, 1), (1, F, 2), (1001, N, 2), (1035, SU, 2)]
    front = kdef.parse(root, angles=("S",))
    assert len(front.splits["train"]) == 3 and front.excluded == {"angle not in this config": 1}
    folds = {e.subject_id: e.fold for e in all_views.splits["train"]}
    assert len(set(folds.values())) == 3


def test_bu3dfe_intensity_subjects_and_min_intensity(tmp_path):
    root = real_trees.bu3dfe_tree(tmp_path)
    got = sorted((e.subject_id, e.label, int(e.extras["intensity"]))
                 for e in bu3dfe.parse(root).splits["train"])
    assert got == [(1, N, 0), (1, A, 4), (1044, H, 1), (1044, SU, 3)]
    high = bu3dfe.parse(root, min_intensity=3)
    assert len(high.splits["train"]) == 3 and high.excluded == {"intensity below min_intensity": 1}


def test_rafdb_splits_labels_and_aligned_names(tmp_path):
    parsed = rafdb.parse(real_trees.rafdb_tree(tmp_path))
    assert {k: e.label for k, e in by_key(parsed).items()} == {"train_00001.jpg": H, "train_00002.jpg": N}
    assert [e.label for e in parsed.splits["test"]] == [SU]
    assert parsed.splits["test"][0].load().shape == (8, 8, 3)
    assert rafdb.image_name("test_0001.jpg", "aligned") == "test_0001_aligned.jpg"


def test_rafdb_unknown_code_names_file_and_line(tmp_path):
    root = real_trees.rafdb_tree(tmp_path)
    path = root / "basic/EmoLabel/list_patition_label.txt"
    path.write_text("train_00001.jpg 4\ntrain_00002.jpg 0\n")
    with pytest.raises(LabelCodeError, match=f"{path}:2: unknown RAF-DB label code 0"):
        rafdb.parse(root)


def test_sfew_splits_and_non_images_counted(tmp_path):
    parsed = sfew.parse(real_trees.sfew_tree(tmp_path))
    assert sorted(e.label for e in parsed.splits["train"]) == [H, A]
    assert [e.label for e in parsed.splits["validation"]] == [N]
    assert parsed.excluded == {"non-image files": 1}


def test_sfew_missing_val_named(tmp_path):
    real_trees.write_image(tmp_path / "Train/Angry/a.png", 1)
    with pytest.raises(MissingManualFile, match=f"missing {tmp_path / 'Val'}"):
        sfew.parse(tmp_path)


def test_affectnet_csv_release(tmp_path):
    parsed = affectnet.parse_csv_release(real_trees.affectnet_csv_tree(tmp_path))
    train = by_key(parsed)
    assert {k: e.label for k, e in train.items()} == {"1/a.jpg": H, "2/c.jpg": C}
    happy = train["1/a.jpg"]
    np.testing.assert_array_equal(happy.box, [8, 8, 16, 16])
    np.testing.assert_array_equal(happy.landmarks[2], [12, 22])
    assert happy.extras["valence"] == np.float32(0.5) and happy.extras["arousal"] == np.float32(0.25)
    (val,) = parsed.splits["validation"]
    assert val.label == SA and np.isnan(val.extras["valence"]) and np.isnan(val.extras["arousal"])
    assert parsed.excluded == {"code 9 (uncertain)": 1}
    seven = affectnet.parse_csv_release(tmp_path, classes=7)
    assert [e.label for e in seven.splits["train"]] == [H]
    assert seven.excluded == {"code 9 (uncertain)": 1, "contempt (classes=7)": 1}


def test_affectnet_csv_without_header(tmp_path):
    parsed = affectnet.parse_csv_release(real_trees.affectnet_csv_tree(tmp_path, header=False))
    assert [e.label for e in parsed.splits["validation"]] == [SA]


def test_affectnet_csv_unknown_code_names_file_and_line(tmp_path):
    root = real_trees.affectnet_csv_tree(tmp_path)
    path = root / "Manually_Annotated_file_lists/validation.csv"
    path.write_text(path.read_text().replace(",2,-2,-2", ",11,-2,-2"))
    with pytest.raises(LabelCodeError, match=f"{path}:2: unknown AffectNet label code 11"):
        affectnet.parse_csv_release(root)


def test_affectnet_npy_release(tmp_path):
    parsed = affectnet.parse_npy_release(real_trees.affectnet_npy_tree(tmp_path))
    (train,) = parsed.splits["train"]
    assert train.key == "train_set/images/0.jpg" and train.label == A
    assert train.extras["valence"] == np.float32(0.25) and train.extras["arousal"] == np.float32(-0.5)
    np.testing.assert_array_equal(train.landmarks[1], [2, 3])
    assert [e.label for e in parsed.splits["validation"]] == [N]
    assert parsed.excluded == {"code 10 (no-face)": 1}


def test_affectnet_npy_missing_annotation_named(tmp_path):
    root = real_trees.affectnet_npy_tree(tmp_path)
    (root / "val_set/annotations/2_aro.npy").unlink()
    with pytest.raises(MissingManualFile, match="2_aro.npy: the aro annotation of 2.jpg"):
        affectnet.parse_npy_release(root)


def test_fer2013_usage_splits_labels_and_pixels(tmp_path):
    parsed = fer2013.parse(real_trees.fer2013_tree(tmp_path))
    assert {s: [e.label for e in ex] for s, ex in parsed.splits.items()} == {
        "train": [A, N], "validation": [H], "test": [SU, SA]}
    image = parsed.splits["train"][1].load()
    assert image.shape == (48, 48, 1) and (image == 20).all()
    assert parsed.splits["test"][1].source.endswith("fer2013.csv:6")


def test_fer2013_unknown_code_names_file_and_line(tmp_path):
    real_trees.write_csv(tmp_path / "fer2013.csv", ["emotion", "pixels", "Usage"],
                         [[0, "1 2", "Training"], [7, "1 2", "Training"]])
    with pytest.raises(LabelCodeError, match=r"fer2013.csv:3: unknown FER-2013 label code 7"):
        fer2013.parse(tmp_path)


def test_fer2013_missing_csv_named(tmp_path):
    with pytest.raises(MissingManualFile, match=f"missing {tmp_path / 'fer2013.csv'}: put fer2013.csv"):
        fer2013.parse(tmp_path)
    real_trees.fer2013_tree(tmp_path)
    with pytest.raises(MissingManualFile, match="fer2013new.csv"):
        fer2013.parse(tmp_path, ferplus=True)


def test_ferplus_majority_soft_labels_and_exclusions(tmp_path):
    root = real_trees.fer2013_tree(tmp_path)
    real_trees.ferplus_csv(root)
    parsed = fer2013.parse(root, ferplus=True)
    assert {s: [e.label for e in ex] for s, ex in parsed.splits.items()} == {
        "train": [H], "validation": [], "test": [C]}
    assert parsed.excluded == {"FER+ rows without a majority emotion": 2,
                               "FER+ rows without an image name": 1}
    soft = parsed.splits["train"][0].extras["soft_label"]
    np.testing.assert_allclose(soft, np.array([1, 8, 0, 1, 0, 0, 0, 0]) / 10, rtol=1e-6)
    np.testing.assert_allclose(parsed.splits["test"][0].extras["soft_label"][[N, C]], [0.25, 0.75])


def test_ferplus_majority_rule():
    votes = lambda *v: np.array(v, np.float32)
    assert fer2013.ferplus_majority(votes(1, 8, 1, 0, 0, 0, 0, 0, 0, 0)) == H
    # single votes are outliers: 3 vs (1 + 1) single votes -> sadness keeps a clear majority
    assert fer2013.ferplus_majority(votes(0, 1, 1, 3, 0, 0, 0, 0, 0, 0)) == SA
    assert fer2013.ferplus_majority(votes(5, 5, 0, 0, 0, 0, 0, 0, 0, 0)) is None  # tie
    assert fer2013.ferplus_majority(votes(0, 0, 0, 0, 0, 0, 0, 0, 0, 10)) is None  # not a face


def test_ferplus_row_count_mismatch(tmp_path):
    root = real_trees.fer2013_tree(tmp_path)
    real_trees.write_csv(root / "fer2013new.csv", ["Usage", "Image name"], [["Training", "x"]])
    with pytest.raises(ValueError, match="1 rows but .*fer2013.csv has 5"):
        fer2013.parse(root, ferplus=True)


def test_simple_csv_layout_with_subjects_and_splits(tmp_path):
    for i, name in enumerate(["a.png", "b.png", "c.png"]):
        real_trees.write_image(tmp_path / "img" / name, i)
    real_trees.write_csv(tmp_path / "labels.csv", ["path", "label", "subject", "split"],
                         [["img/a.png", "happy", "P7", "train"], ["img/b.png", "Sadness", "P2", ""],
                          ["img/c.png", "disgust", "P7", "test"]])
    parsed = ised.parse(tmp_path)
    assert [(e.key, e.label, e.subject_id) for e in parsed.splits["train"]] == [
        ("img/a.png", H, 1), ("img/b.png", SA, 0)]
    assert [(e.label, e.subject_id) for e in parsed.splits["test"]] == [(D, 1)]


def test_simple_csv_unknown_label_names_file_and_line(tmp_path):
    real_trees.write_csv(tmp_path / "labels.csv", ["path", "label"], [["a.png", "happy"], ["b.png", "anger"]])
    with pytest.raises(LabelCodeError, match=r"labels.csv:3: unknown ISED label code 'anger'"):
        ised.parse(tmp_path)


def test_simple_csv_needs_header(tmp_path):
    real_trees.write_csv(tmp_path / "labels.csv", None, [["a.png", "happy"]])
    with pytest.raises(ValueError, match="labels.csv:1: header must name columns path,label"):
        simple.parse_simple(tmp_path, intensity_label)


def test_class_folders_with_split_folders_and_subject_regex(tmp_path):
    real_trees.write_image(tmp_path / "train/anger/S010_006_00000013.png", 1)
    real_trees.write_image(tmp_path / "train/sadness/S005_001_00000009.png", 2)
    real_trees.write_image(tmp_path / "test/contempt/S010_002_00000007.png", 3)
    parsed = simple.parse_simple(tmp_path, simple.table_label(class_folder.CK48_FOLDERS, "CK+48"),
                                 r"^S(\d{3})_")
    # Numeric subject names keep their numbers (CK+'s S-numbers), not their ranks.
    assert [(e.label, e.subject_id) for e in parsed.splits["train"]] == [(A, 10), (SA, 5)]
    assert [(e.label, e.subject_id) for e in parsed.splits["test"]] == [(C, 10)]


def test_class_folder_unknown_class_and_subject_mismatch_named(tmp_path):
    real_trees.write_image(tmp_path / "joy/x.png", 1)
    table = simple.table_label(class_folder.FER2013_FOLDERS, "FER-2013")
    with pytest.raises(LabelCodeError, match=f"{tmp_path / 'joy'}: unknown FER-2013 label code 'joy'"):
        simple.parse_simple(tmp_path, table)
    with pytest.raises(ValueError, match="x.png: file name does not match subject pattern"):
        simple.parse_simple(tmp_path, table, r"^S(\d+)_")


def test_class_folders_mixed_with_split_folders_rejected(tmp_path):
    real_trees.write_image(tmp_path / "train/happy/a.png", 1)
    real_trees.write_image(tmp_path / "happy/b.png", 1)
    with pytest.raises(ValueError, match="mixes split folders"):
        simple.parse_simple(tmp_path, intensity_label)


def test_happei_intensity_folders(tmp_path):
    real_trees.write_image(tmp_path / "0/a.png", 1)
    real_trees.write_image(tmp_path / "5/b.png", 2)
    parsed = simple.parse_simple(tmp_path, intensity_label)
    assert [(e.label, int(e.extras["intensity"])) for e in parsed.splits["train"]] == [(H, 0), (H, 5)]
    real_trees.write_image(tmp_path / "6/c.png", 2)
    with pytest.raises(LabelCodeError, match="unknown HAPPEI label code '6'"):
        simple.parse_simple(tmp_path, intensity_label)


def test_simple_layout_missing_root_named(tmp_path):
    with pytest.raises(MissingManualFile, match=f"missing {tmp_path / 'nope'}"):
        simple.parse_simple(tmp_path / "nope", intensity_label)
