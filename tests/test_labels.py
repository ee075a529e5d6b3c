import numpy as np
import pytest

from ferjax import labels


def test_canonical_order_is_fixed():
    assert labels.CLASSES == ("neutral", "happy", "sad", "surprise", "fear", "disgust",
                              "anger", "contempt")


def test_seven_class_map_drops_contempt_only():
    table = labels.label_map_table("seven")
    np.testing.assert_array_equal(table, [0, 1, 2, 3, 4, 5, 6, -1])


def test_three_class_map_drops_surprise_and_groups_valence():
    table = labels.label_map_table("three")
    neutral, positive, negative = 0, 1, 2
    expected = {"neutral": neutral, "happy": positive, "contempt": positive, "sad": negative,
                "fear": negative, "disgust": negative, "anger": negative, "surprise": -1}
    for name, target in expected.items():
        assert table[labels.class_index(name)] == target, name
    assert labels.label_space_classes("three") == ("neutral", "positive", "negative")


def test_unknown_names_raise_with_the_name():
    with pytest.raises(ValueError, match="'angry'"):
        labels.class_index("angry")
    with pytest.raises(ValueError, match="'nine'"):
        labels.label_map_table("nine")
