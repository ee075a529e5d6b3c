"""Image decoding, the 'none'/'box' face crops, and the prepare report's duplicate hashing."""

import json
import sys

import numpy as np
import pytest
import real_trees
from PIL import Image

from ferjax.data.real import face, report
from ferjax.data.real.errors import UnreadableImage
from ferjax.data.real.images import image_from_pixels, load_image


@pytest.mark.parametrize("fmt,suffix", [("PNG", "png"), ("TIFF", "tiff"), ("BMP", "bmp")])
def test_lossless_formats_round_trip(tmp_path, fmt, suffix):
    path = real_trees.write_image(tmp_path / f"x.{suffix}", 77, mode="RGB", fmt=fmt)
    image = load_image(path)
    assert image.dtype == np.uint8 and image.shape == (8, 8, 3)
    np.testing.assert_array_equal(image[0, 0], [77, 78, 79])


def test_grey_palette_becomes_one_channel_colour_palette_three(tmp_path):
    Image.fromarray(np.full((4, 4), 9, np.uint8), "L").convert("P").save(tmp_path / "g.png")
    colour = Image.fromarray(np.full((4, 4, 3), (200, 10, 10), np.uint8)).convert("P")
    colour.save(tmp_path / "c.png")
    assert load_image(tmp_path / "g.png").shape == (4, 4, 1)
    assert load_image(tmp_path / "c.png").shape == (4, 4, 3)


def test_truncated_missing_and_garbage_files_raise_unreadable(tmp_path):
    truncated = real_trees.write_truncated_jpeg(tmp_path / "t.jpg")
    (tmp_path / "g.png").write_bytes(b"not a png")
    for path in (truncated, tmp_path / "g.png", tmp_path / "absent.png"):
        with pytest.raises(UnreadableImage, match=path.name):
            load_image(path)


def test_pixels_string():
    image = image_from_pixels("0 1 2 3 4 5", (2, 3), where="f:2")
    np.testing.assert_array_equal(image[..., 0], [[0, 1, 2], [3, 4, 5]])
    with pytest.raises(UnreadableImage, match="f:2: 2 pixels, expected 6"):
        image_from_pixels("0 1", (2, 3), where="f:2")
    with pytest.raises(UnreadableImage, match="outside 0..255"):
        image_from_pixels("0 1 2 3 4 256", (2, 3), where="f:2")


def test_none_crop_takes_centre_square_and_moves_landmarks():
    image = np.zeros((20, 10, 3), np.uint8)
    image[5:15] = 200  # the centre 10x10 square is bright, the rest dark
    lm = np.tile(np.array([[5.0, 10.0]], np.float32), (68, 1))  # centre of the image
    out = face.crop_face(image, lm, None, face.FaceOptions(image_size=4, grey=True))
    assert out.image.shape == (4, 4, 1) and (out.image == 200).all()
    np.testing.assert_allclose(out.landmarks[0], [2.0, 2.0])  # (5-0, 10-5) * 0.4
    assert out.box is None and out.detected


def test_box_crop_pads_and_maps_box_to_output_frame():
    image = np.full((10, 10, 1), 50, np.uint8)
    box = np.array([2, 2, 4, 4], np.float32)  # square 4.8 -> rounds to 5 (margin 0.2 each side)
    out = face.crop_face(image, None, box, face.FaceOptions(image_size=10, crop="box"))
    assert out.image.shape == (10, 10, 3)
    x0 = round(4 - 4 * 1.4 / 2)
    side = round(4 * 1.4)
    np.testing.assert_allclose(out.box, [(2 - x0) * 10 / side, (2 - x0) * 10 / side,
                                         4 * 10 / side, 4 * 10 / side], rtol=1e-6)
    edge = face.crop_face(image, None, np.array([0, 0, 10, 10], np.float32),
                          face.FaceOptions(image_size=14, crop="box", grey=True))
    assert edge.image[0, 0, 0] == 0 and edge.image[7, 7, 0] == 50  # zero padding outside


def test_face_options_validated():
    with pytest.raises(ValueError, match="crop='mtcnn'"):
        face.FaceOptions(crop="mtcnn")
    with pytest.raises(ValueError, match="image_size=0"):
        face.FaceOptions(image_size=0)
    with pytest.raises(ValueError, match="mask=True needs crop='landmarks', 'detect' or 'tight'"):
        face.FaceOptions(mask=True)


def test_delegated_modes_name_the_missing_preprocess_pipeline(monkeypatch):
    monkeypatch.setitem(sys.modules, "ferjax.preprocess.pipeline", None)  # import fails
    with pytest.raises(ValueError, match="ferjax.preprocess.pipeline.FacePreprocessor"):
        face.make_face_preprocessor(face.FaceOptions(crop="detect"))


def test_illumination_applies_to_the_plain_crops_too():
    # Sun et al.'s RaFD-POSE: a fixed crop, then isotropic-diffusion illumination normalisation.
    from ferjax.preprocess.illumination import isotropic_diffusion_normalise
    rng = np.random.default_rng(0)
    image = rng.integers(1, 200, (30, 20, 1), dtype=np.uint8)
    plain = face.crop_face(image, None, None, face.FaceOptions(image_size=10, grey=True))
    lit = face.crop_face(image, None, None, face.FaceOptions(image_size=10, grey=True,
                                                            illumination="isotropic"))
    np.testing.assert_array_equal(lit.image, isotropic_diffusion_normalise(plain.image, 0.4))
    with pytest.raises(ValueError, match="illumination='retinex'"):
        face.FaceOptions(illumination="retinex")


def test_non_square_output_keeps_the_aspect_ratio():
    # A (height, width) = (16, 10) output of a 40×40 image takes the centre 40×25 window.
    image = np.zeros((40, 40, 1), np.uint8)
    image[:, 7:33] = 255  # the centre 25 columns (and a little more) bright
    lm = np.tile(np.array([[20.0, 20.0]], np.float32), (68, 1))
    options = face.FaceOptions(image_size=(16, 10), grey=True)
    assert options.size_hw == (16, 10)
    out = face.crop_face(image, lm, None, options)
    assert out.image.shape == (16, 10, 1) and (out.image == 255).all()
    np.testing.assert_allclose(out.landmarks[0], [(20 - 8) * 10 / 25, 20 * 16 / 40])
    box = face.crop_face(image, None, np.array([10, 10, 10, 20], np.float32),
                         face.FaceOptions(image_size=(20, 10), crop="box"))
    # window 14 × 28 (box 10×20 grown 20 % per side) centred on the box: scale 10/14 = 20/28
    np.testing.assert_allclose(box.box[2:], [10 * 10 / 14, 20 * 20 / 28], rtol=1e-6)
    for bad in ((16, 0), (1, 2, 3), 2.5):
        with pytest.raises(ValueError, match="image_size"):
            face.FaceOptions(image_size=bad)


def test_report_finds_duplicates_across_and_within_splits(tmp_path):
    rep = report.PrepareReport(dataset="d", config="c")
    a, b = np.zeros((2, 2, 1), np.uint8), np.ones((2, 2, 1), np.uint8)
    rep.add_hash("train", "t1", a)
    rep.add_hash("test", "s1", a.copy())
    rep.add_hash("train", "t2", b)
    rep.add_hash("train", "t3", b.copy())
    rep.add_hash("train", "t4", np.zeros((1, 4, 1), np.uint8))  # same bytes, other shape
    rep.add_skipped("test", "s2", "f.jpg", "truncated")
    data = json.loads(rep.write(tmp_path).read_text())
    assert data["cross_split_duplicates"] == [[{"split": "train", "key": "t1"},
                                               {"split": "test", "key": "s1"}]]
    assert data["within_split_duplicate_groups"] == 1
    assert data["skipped"] == [{"split": "test", "key": "s2", "source": "f.jpg", "reason": "truncated"}]
    assert "1 groups of identical images across splits" in rep.summary()
