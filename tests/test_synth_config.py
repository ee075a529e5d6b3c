"""SynthConfig validation, presets, EMFACS table."""

import dataclasses

import pytest

from ferjax import labels, synth


def test_presets_and_overrides():
    front = synth.preset("front", image_size=(160, 125), channels=1)
    assert front.image_size == (160, 125) and front.channels == 1 and front.aligned
    assert synth.preset("pose").yaw_angles == (-90.0, -45.0, 0.0, 45.0, 90.0)
    assert synth.preset("composite").composite
    assert synth.preset("wild").distractor_prob > 0
    assert synth.preset("front", classes=["happy", "sad"]).classes == ("happy", "sad")
    assert front.region_shape == (40, 32)
    with pytest.raises(dataclasses.FrozenInstanceError):
        front.channels = 3


def test_wild_lies_three_tenths_of_the_way_from_front_to_wild_hard():
    front, wild = synth.preset("front"), synth.preset("wild")
    hard = synth.preset("wild", **synth.WILD_HARD)
    assert not wild.aligned and not hard.aligned and wild.channels == hard.channels == 3
    for field in synth.WILD_HARD:
        lo, mid, hi = (getattr(c, field) for c in (front, wild, hard))
        pairs = zip(lo, mid, hi) if isinstance(lo, tuple) else [(lo, mid, hi)]
        for a, b, c in pairs:
            assert b == pytest.approx(a + 0.3 * (c - a), abs=6e-4), field


def test_emotion_table_is_the_emfacs_one():
    assert tuple(synth.EMOTION_AUS) == labels.CLASSES
    assert synth.EMOTION_AUS["happy"] == ("AU6", "AU12")
    assert synth.EMOTION_AUS["fear"] == ("AU1", "AU2", "AU4", "AU5", "AU7", "AU20", "AU26")
    assert synth.EMOTION_AUS["contempt"] == ("AU12", "AU14")
    assert len(synth.AU_NAMES) == 16 and synth.AU_NAMES[0] == "AU1"
    used = {au for aus in synth.EMOTION_AUS.values() for au in aus}
    assert used <= set(synth.AU_NAMES)
    with pytest.raises(ValueError, match="unknown action unit 'AU3'"):
        synth.au_index("AU3")


@pytest.mark.parametrize("field, value", [
    ("image_size", (0, 64)),
    ("image_size", (-5, 64)),
    ("image_size", (64,)),
    ("channels", 2),
    ("num_subjects", 0),
    ("num_folds", 61),
    ("num_folds", 0),
    ("classes", ("happy", "joy")),
    ("classes", ()),
    ("distractor_aus", ("AU1", "AU99")),
    ("distractor_prob", 1.5),
    ("distractor_prob", -0.1),
    ("au_dropout", 1.5),
    ("variants_per_class", 0),
    ("glasses_prob", 2.0),
    ("fringe_prob", float("nan")),
    ("blur_prob", -1.0),
    ("intensity_range", (0.8, 0.2)),
    ("intensity_range", (0.5, 1.5)),
    ("split_fractions", (0.5, 0.5, 0.5)),
    ("split_fractions", (0.0, 0.5, 0.5)),
    ("background_probs", (0.5, 0.2, 0.2)),
    ("yaw_angles", (0.0, 120.0)),
    ("scale_range", (0.0, 1.0)),
    ("noise_std_range", (-1.0, 2.0)),
])
def test_bad_values_raise_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"SynthConfig.{field}"):
        synth.preset("front", **{field: value})


def test_unknown_preset_and_unknown_field():
    with pytest.raises(ValueError, match="unknown FERSynth preset 'studio'"):
        synth.preset("studio")
    with pytest.raises(ValueError, match="no field 'imgsize'"):
        synth.preset("front", imgsize=(10, 10))
