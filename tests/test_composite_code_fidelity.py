"""The renderer's choices that follow the authors' code (ferrender.py): the min–max `norm`,
the Lab L clip to [10, 90] and the 7×7 mask cleaning, each against hand-computed values, and
the switches back to the alternatives."""

import dataclasses

import numpy as np
import pytest

from ferjax.data.composite import render
from ferjax.data.composite.settings import CompositeSettings, settings_from_config


def _square_with_hole() -> np.ndarray:
    mask = np.zeros((60, 60), bool)
    mask[10:40, 10:40] = True
    mask[21:30, 21:30] = False   # a 9×9 hole: larger than either closing element
    return mask


def test_code_mask_cleaning_shrinks_by_three_and_fills_the_hole():
    expected = np.zeros((60, 60), bool)
    expected[13:37, 13:37] = True    # 7×7 erosion: 3 pixels per side
    np.testing.assert_array_equal(render.clean_mask(_square_with_hole(), "code"), expected)


def test_light_mask_cleaning_shrinks_by_one():
    expected = np.zeros((60, 60), bool)
    expected[11:39, 11:39] = True    # 3×3 erosion: 1 pixel per side
    np.testing.assert_array_equal(render.clean_mask(_square_with_hole(), "light"), expected)


def test_code_mask_cleaning_closes_a_gap_narrower_than_seven():
    mask = np.zeros((60, 60), bool)
    mask[10:40, 10:40] = True
    mask[10:40, 24:29] = False       # a 5-pixel slit splits the square in two
    cleaned = render.clean_mask(mask, "code")
    assert cleaned[13:37, 13:37].all() and cleaned.sum() == 24 * 24


def test_code_minmax_norm_divides_by_the_maximum():
    image = np.zeros((1, 4, 2), np.uint8)
    image[0, :, 0] = [50, 100, 200, 0]
    image[0, :, 1] = [10, 20, 40, 0]
    mask = np.array([[True, True, True, False]])
    out = render.code_minmax_norm(image, mask)
    # channel 0: (x − 50)/200·255 truncated; channel 1: (x − 10)/40·255; outside → 0
    np.testing.assert_array_equal(out[0, :, 0], [0, 63, 191, 0])
    np.testing.assert_array_equal(out[0, :, 1], [0, 63, 191, 0])
    whole = render.code_minmax_norm(image)   # no mask: min 0 and max over every pixel
    np.testing.assert_array_equal(whole[0, :, 0], [63, 127, 255, 0])


@pytest.mark.parametrize("l_range,expected", [((10.0, 90.0), 226), ((0.0, 100.0), 235)])
def test_luminance_l_is_clipped_to_the_code_range(l_range, expected):
    # Grey 150 has L* = 62.1; a white background gives w = 100/62.1 → clipped to 1.5, so
    # L·w = 93: the code clips it to 90 (sRGB 226), without the clip it stays (sRGB 235).
    face = np.full((4, 4, 3), 150, np.uint8)
    back = np.full((4, 4, 3), 255, np.uint8)
    out, w = render.match_luminance(face, np.ones((4, 4), bool), back, (0.5, 1.5), l_range)
    assert w == 1.5
    assert abs(int(out[0, 0, 0]) - expected) <= 2


def test_luminance_l_low_bound():
    # Grey 40 (L* = 16.1) on black: w = 0.5 → L = 8.1, raised to the code's 10 (sRGB 28).
    face = np.full((4, 4, 3), 40, np.uint8)
    back = np.zeros((4, 4, 3), np.uint8)
    clipped, _ = render.match_luminance(face, np.ones((4, 4), bool), back, (0.5, 1.5))
    free, _ = render.match_luminance(face, np.ones((4, 4), bool), back, (0.5, 1.5), (0, 100))
    assert abs(int(clipped[0, 0, 0]) - 28) <= 2
    assert int(free[0, 0, 0]) < int(clipped[0, 0, 0])


def test_render_applies_the_minmax_norm_to_face_and_background():
    settings = CompositeSettings(render_size=48, pad=4, output_size=52, noise_prob=0.0,
                                 blur_prob=0.0, clahe_prob=0.0, max_rotation=0.0,
                                 max_translation=0.0, max_warp=0.0, scale=0.0, flip_prob=0.0,
                                 grey=False, channels=3)
    face = np.zeros((48, 48, 3), np.uint8)
    face[:, :24] = 100
    face[:, 24:] = 200
    mask = np.full((48, 48), 255, np.uint8)
    background = np.full((56, 56, 3), 40, np.uint8)
    background[:, :28] = 80
    rng = lambda: np.random.default_rng(0)
    normed = render.render(face, mask, background, rng(), settings)
    plain = render.render(face, mask, background, rng(),
                          dataclasses.replace(settings, minmax_norm=False))
    # Face target: (100 − 100)/200 → 0 and (200 − 100)/200·255 → 127; unnormalised 100 and 200.
    row = normed["face"][26, :, 0]
    assert abs(int(row[10]) - 0) <= 1 and abs(int(row[40]) - 127) <= 1
    assert abs(int(plain["face"][26, 10, 0]) - 100) <= 1
    # Background corner (outside the face): (80 − 40)/80·255 = 127 against 80.
    assert abs(int(normed["image"][0, 0, 0]) - 127) <= 1
    assert abs(int(plain["image"][0, 0, 0]) - 80) <= 1


def test_settings_read_and_reject_the_code_switches():
    settings = settings_from_config({"settings": {"luminance_l_range": [0, 100],
                                                  "mask_cleaning": "light",
                                                  "minmax_norm": False}}, evaluation=False)
    assert settings.luminance_l_range == (0, 100)
    assert (settings.mask_cleaning, settings.minmax_norm) == ("light", False)
    defaults = CompositeSettings()
    assert (defaults.luminance_l_range, defaults.mask_cleaning, defaults.minmax_norm) == (
        (10.0, 90.0), "code", True)
    with pytest.raises(ValueError, match="mask_cleaning"):
        CompositeSettings(mask_cleaning="ellipse")
    with pytest.raises(ValueError, match="luminance_l_range"):
        CompositeSettings(luminance_l_range=(20.0, 120.0))
