"""Every dataset label table against the codes documented for the dataset (docs/datasets.md)."""

import importlib
import importlib.util

import numpy as np
import pytest

from ferjax import labels
from ferjax.data import builders
from ferjax.data.real import label_codes as lt
from ferjax.datasets.affectnet import layout as affectnet
from ferjax.datasets.bu3dfe import layout as bu3dfe
from ferjax.datasets.ckplus import layout as ckplus
from ferjax.datasets.class_folder import layout as class_folder
from ferjax.datasets.fer2013 import layout as fer2013
from ferjax.datasets.ised import layout as ised
from ferjax.datasets.jaffe import layout as jaffe
from ferjax.datasets.kdef import layout as kdef
from ferjax.datasets.rafd import layout as rafd
from ferjax.datasets.rafdb import layout as rafdb
from ferjax.datasets.sfew import layout as sfew

TABLES = {
    "ckplus": ckplus.LABELS, "jaffe": jaffe.LABELS, "rafd": rafd.LABELS,
    "affectnet": affectnet.LABELS, "fer2013": fer2013.LABELS,
    "fer2013_folders": class_folder.FER2013_FOLDERS, "ferplus": fer2013.FERPLUS_LABELS,
    "sfew": sfew.LABELS, "bu3dfe": bu3dfe.LABELS, "rafdb": rafdb.LABELS, "kdef": kdef.LABELS,
    "ck48_folders": class_folder.CK48_FOLDERS, "ised": ised.LABELS,
}

# Canonical ids, written out by hand: 0 neutral 1 happy 2 sad 3 surprise 4 fear 5 disgust
# 6 anger 7 contempt.
N, H, SA, SU, F, D, A, C = range(8)

EXPECTED = {
    # CK+: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise.
    "ckplus": {0: N, 1: A, 2: C, 3: D, 4: F, 5: H, 6: SA, 7: SU},
    "jaffe": {"AN": A, "DI": D, "FE": F, "HA": H, "NE": N, "SA": SA, "SU": SU},
    "rafd": {"angry": A, "contemptuous": C, "disgusted": D, "fearful": F, "happy": H,
             "neutral": N, "sad": SA, "surprised": SU},
    # AffectNet: 0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear, 5 disgust, 6 anger, 7 contempt.
    "affectnet": {0: N, 1: H, 2: SA, 3: SU, 4: F, 5: D, 6: A, 7: C},
    # FER-2013: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral.
    "fer2013": {0: A, 1: D, 2: F, 3: H, 4: SA, 5: SU, 6: N},
    "fer2013_folders": {"angry": A, "disgust": D, "fear": F, "happy": H, "neutral": N,
                        "sad": SA, "surprise": SU},
    "ferplus": {"neutral": N, "happiness": H, "surprise": SU, "sadness": SA, "anger": A,
                "disgust": D, "fear": F, "contempt": C},
    "sfew": {"Angry": A, "Disgust": D, "Fear": F, "Happy": H, "Neutral": N, "Sad": SA,
             "Surprise": SU},
    "bu3dfe": {"AN": A, "DI": D, "FE": F, "HA": H, "NE": N, "SA": SA, "SU": SU},
    # RAF-DB: 1 surprise, 2 fear, 3 disgust, 4 happiness, 5 sadness, 6 anger, 7 neutral.
    "rafdb": {1: SU, 2: F, 3: D, 4: H, 5: SA, 6: A, 7: N},
    "kdef": {"AF": F, "AN": A, "DI": D, "HA": H, "NE": N, "SA": SA, "SU": SU},
    "ck48_folders": {"anger": A, "contempt": C, "disgust": D, "fear": F, "happy": H,
                     "sadness": SA, "surprise": SU},
    "ised": {"happiness": H, "happy": H, "surprise": SU, "sadness": SA, "sad": SA, "disgust": D},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_table_matches_documented_codes(name):
    table = TABLES[name]
    assert set(table) == set(EXPECTED[name])
    for code, expected in EXPECTED[name].items():
        assert lt.canonical_id(table, code, where="t") == expected, (name, code)


def test_every_table_is_tested_and_maps_into_canonical_classes():
    # Every dataset layout's own table (LABELS) is among the tested ones.
    for name in builders.available():
        if importlib.util.find_spec(f"ferjax.datasets.{name}.layout") is None:
            continue
        table = getattr(importlib.import_module(f"ferjax.datasets.{name}.layout"), "LABELS", None)
        assert table is None or table is TABLES[name], name
    assert set(TABLES) == set(EXPECTED)
    for name, table in {**TABLES, "class_names": class_folder.CLASS_NAME_SYNONYMS}.items():
        assert set(table.values()) <= set(labels.CLASSES), name


def test_class_name_synonyms_cover_every_canonical_class_and_common_spellings():
    syn = class_folder.CLASS_NAME_SYNONYMS
    for name in labels.CLASSES:
        assert syn[name] == name
    assert (syn["angry"], syn["sadness"], syn["happiness"], syn["surprised"]) == (
        "anger", "sad", "happy", "surprise")


def test_affectnet_non_emotion_codes_are_known_but_not_in_the_table():
    assert dict(affectnet.EXCLUDED) == {8: "none", 9: "uncertain", 10: "no-face"}
    assert not set(affectnet.EXCLUDED) & set(affectnet.LABELS)


def test_ferplus_vote_columns_in_file_order():
    assert fer2013.FERPLUS_VOTE_COLUMNS == ("neutral", "happiness", "surprise", "sadness", "anger",
                                       "disgust", "fear", "contempt", "unknown", "NF")


def test_papers_label_maps_on_top_of_a_dataset_table():
    # CK+ code 2 (contempt): kept in 8 classes, dropped in 7, positive in EmotionalDAN's 3.
    contempt = lt.canonical_id(ckplus.LABELS, 2, where="t")
    assert labels.label_map_table("seven")[contempt] == -1
    assert labels.label_space_classes("three")[labels.label_map_table("three")[contempt]] == "positive"
    # FER-2013 code 5 (surprise) has no valence: dropped in the 3-class map.
    assert labels.label_map_table("three")[lt.canonical_id(fer2013.LABELS, 5, where="t")] == -1
    np.testing.assert_array_equal(
        labels.label_map_table("seven")[[lt.canonical_id(rafdb.LABELS, c, where="t") for c in range(1, 8)]],
        [SU, F, D, H, SA, A, N])


def test_unknown_code_error_names_where_and_code():
    with pytest.raises(lt.LabelCodeError, match=r"a\.csv:7: unknown FER-2013 label code 9"):
        lt.canonical_id(fer2013.LABELS, 9, where="a.csv:7", dataset="FER-2013")


@pytest.mark.parametrize("text,value", [("3", 3), ("3.0", 3), ("   7.0000000e+00\n", 7)])
def test_parse_int_code(text, value):
    assert lt.parse_int_code(text, where="f") == value


@pytest.mark.parametrize("text", ["x", "2.5"])
def test_parse_int_code_rejects_non_integers_naming_the_file(text):
    with pytest.raises(lt.LabelCodeError, match="f:3"):
        lt.parse_int_code(text, where="f:3")
