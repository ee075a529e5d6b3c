"""Class balancing (Jalal et al. 2019 §V-B) and the AffectNet-frequency imbalancer."""

import json

import grain
import numpy as np
import pytest

from ferjax import ibug68
from ferjax.data.balance import balance, balanced_plan, class_counts, flip_and_crop
from ferjax.data.imbalance import AFFECTNET_TRAIN_COUNTS, imbalance, imbalanced_counts, imbalanced_plan


def _records(labels, size=8):
    """Tiny records: image pixels encode the record's index so copies are traceable."""
    out = []
    for i, label in enumerate(labels):
        image = np.full((size, size, 1), i % 256, np.uint8)
        out.append({"image": image, "label": np.int64(label), "index": np.int64(i)})
    return out


def test_plan_gives_equal_class_counts():
    labels = np.array([0] * 50 + [1] * 7 + [2] * 20)
    index, replica = balanced_plan(labels, 20, seed=0)
    np.testing.assert_array_equal(class_counts(labels[index], 3), [20, 20, 20])
    # Large class: 20 distinct originals. Small class: every example 2×, then 6 more.
    big = index[labels[index] == 0]
    assert len(set(big.tolist())) == 20 and np.all(replica[labels[index] == 0] == 0)
    small = index[labels[index] == 1]
    np.testing.assert_array_equal(np.bincount(small, minlength=57)[50:57].sum(), 20)
    assert set(np.bincount(small)[50:57].tolist()) <= {2, 3}
    np.testing.assert_array_equal(np.sort(replica[labels[index] == 1]),
                                  [0] * 7 + [1] * 7 + [2] * 6)
    # Exactly-sized class is kept whole.
    assert sorted(index[labels[index] == 2].tolist()) == list(range(57, 77))


def test_whole_replication_reproduces_the_paper_counts():
    labels = np.repeat(np.arange(8), AFFECTNET_TRAIN_COUNTS)
    index, _ = balanced_plan(labels, 13000, seed=0, replicate="whole")
    # Paper §V-B: neutral, happy, sad, surprise, anger 13,000; fear 12,756; disgust 11,409;
    # contempt 11,250.
    np.testing.assert_array_equal(class_counts(labels[index], 8),
                                  [13000, 13000, 13000, 13000, 12756, 11409, 13000, 11250])
    filled, _ = balanced_plan(labels, 13000, seed=0)
    np.testing.assert_array_equal(class_counts(labels[filled], 8), [13000] * 8)


def test_plan_is_deterministic_per_seed():
    labels = np.random.default_rng(0).integers(0, 4, 200)
    a = balanced_plan(labels, "median", seed=3)
    b = balanced_plan(labels, "median", seed=3)
    c = balanced_plan(labels, "median", seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    assert len(a[0]) == 4 * int(np.median(np.bincount(labels)))


def test_plan_rejects_bad_input():
    with pytest.raises(ValueError, match=r"classes \[1\] have no examples"):
        balanced_plan([0, 0, 2], 5, seed=0)
    with pytest.raises(ValueError, match="replicate='twice'"):
        balanced_plan([0, 1], 5, seed=0, replicate="twice")
    with pytest.raises(ValueError, match="target='mode'"):
        balanced_plan([0, 1], "mode", seed=0)
    with pytest.raises(ValueError, match="outside the 2 classes"):
        balanced_plan([0, 1, 2], 5, seed=0, num_classes=2)


def test_balanced_dataset_counts_replicas_and_determinism():
    labels = [0] * 12 + [1] * 3
    source = grain.MapDataset.source(_records(labels))
    balanced = balance(source, 6, seed=1)
    assert len(balanced) == 12
    elements = [balanced[i] for i in range(len(balanced))]
    assert [int(e["label"]) for e in elements] == [0] * 6 + [1] * 6
    again = balance(source, 6, seed=1)
    for i, e in enumerate(elements):
        np.testing.assert_array_equal(again[i]["image"], e["image"])
        assert int(again[i]["index"]) == int(e["index"])
    # Originals are untouched; replicas of constant images stay constant (flip/crop only).
    for e in elements:
        assert np.all(e["image"] == int(e["index"])) and e["image"].shape == (8, 8, 1)


def test_resumed_iterator_yields_the_same_next_elements():
    labels = list(np.random.default_rng(1).integers(0, 3, 40))
    dataset = (balance(grain.MapDataset.source(_records(labels)), 15, seed=7)
               .shuffle(seed=2).repeat(2).to_iter_dataset())
    it = iter(dataset)
    for _ in range(11):
        next(it)
    state = json.loads(json.dumps(it.get_state()))  # what a checkpoint stores
    expected = [next(it) for _ in range(20)]
    resumed = iter(dataset)
    resumed.set_state(state)
    got = [next(resumed) for _ in range(20)]
    for a, b in zip(expected, got):
        assert int(a["index"]) == int(b["index"]) and int(a["label"]) == int(b["label"])
        np.testing.assert_array_equal(a["image"], b["image"])


def _record_with_landmarks(size=40):
    rng = np.random.default_rng(0)
    points = rng.uniform(8, size - 8, (68, 2)).astype(np.float32)
    image = np.zeros((size, size, 3), np.uint8)
    x, y = np.round(points[0]).astype(int)
    image[y, x] = 255  # one bright pixel at landmark 0
    mask = np.zeros((size, size, 1), np.uint8)
    mask[:, : size // 2] = 255
    return {"image": image, "mask": mask, "landmarks": points, "label": np.int64(3),
            "au_regions": np.zeros((size // 4, size // 4), np.uint16)}


class _FixedRng:
    """Stands in for a Generator: uniform() returns scripted values in order."""

    def __init__(self, values):
        self._values = list(values)

    def uniform(self, low=0.0, high=1.0):
        return low + (high - low) * self._values.pop(0)


def test_flip_only_mirrors_pixels_landmarks_and_point_order():
    record = _record_with_landmarks()
    out = flip_and_crop(record, _FixedRng([0.0, 0.0, 0.0]), crop_fraction=1.0)
    np.testing.assert_array_equal(out["image"], record["image"][:, ::-1])
    np.testing.assert_array_equal(out["mask"], record["mask"][:, ::-1])
    mirrored = record["landmarks"][ibug68.MIRROR]
    np.testing.assert_allclose(out["landmarks"][:, 0], 39 - mirrored[:, 0], atol=1e-4)
    np.testing.assert_allclose(out["landmarks"][:, 1], mirrored[:, 1], atol=1e-4)
    assert out["au_regions"].shape == (10, 10) and out["au_regions"].dtype == np.uint16
    # Mirror pairs: outer eye corners 36 <-> 45, mouth corners 48 <-> 54; an involution.
    assert ibug68.MIRROR[36] == 45 and ibug68.MIRROR[48] == 54
    np.testing.assert_array_equal(ibug68.MIRROR[ibug68.MIRROR], np.arange(68))


def test_crop_moves_landmarks_with_the_pixels():
    record = _record_with_landmarks()
    no_flip = flip_and_crop(record, _FixedRng([0.3, 0.7, 0.9]), crop_fraction=0.8)
    flipped = flip_and_crop(record, _FixedRng([0.3, 0.7, 0.1]), crop_fraction=0.8)
    for out, point in ((no_flip, no_flip["landmarks"][0]),
                       (flipped, flipped["landmarks"][ibug68.MIRROR[0]])):
        y, x = np.unravel_index(np.argmax(out["image"][..., 0]), (40, 40))
        assert abs(x - point[0]) <= 1.0 and abs(y - point[1]) <= 1.0
        assert out["image"].shape == (40, 40, 3) and out["image"].dtype == np.uint8
    with pytest.raises(ValueError, match="crop_fraction"):
        flip_and_crop(record, np.random.default_rng(0), crop_fraction=0.0)


def test_imbalance_follows_affectnet_frequencies():
    counts = imbalanced_counts(np.full(8, 1000), np.asarray(AFFECTNET_TRAIN_COUNTS, float))
    # Happy (the most frequent) keeps all 1000; the rest scale by count / 134,415.
    expected = np.maximum(np.floor(1000 * np.array(AFFECTNET_TRAIN_COUNTS) / 134415 + 1e-9), 1)
    np.testing.assert_array_equal(counts, expected.astype(int))
    assert counts[1] == 1000 and counts[7] == 27
    labels = np.repeat(np.arange(8), 300)
    index = imbalanced_plan(labels, "affectnet", seed=0)
    kept = class_counts(labels[index], 8)
    assert kept[1] == 300 and kept[7] == 8 and len(set(index.tolist())) == len(index)
    np.testing.assert_array_equal(index, imbalanced_plan(labels, "affectnet", seed=0))


def test_imbalance_dataset_and_errors():
    labels = [0] * 10 + [1] * 10
    data = imbalance(grain.MapDataset.source(_records(labels)), [1.0, 0.5], seed=0)
    assert [int(data[i]["label"]) for i in range(len(data))] == [0] * 10 + [1] * 5
    with pytest.raises(ValueError, match="'imagenet'"):
        imbalanced_plan(labels, "imagenet", seed=0)
    with pytest.raises(ValueError, match="3 class frequencies for 2 classes"):
        imbalanced_counts(np.array([3, 4]), np.array([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"classes \[1\] have a frequency but no examples"):
        imbalanced_plan([0, 0], [1.0, 1.0], seed=0)


def test_class_sampling_hook_imbalances_then_balances():
    from ferjax.data.class_sampling import resample_training_classes

    labels = np.repeat(np.arange(8), 40)
    source = grain.MapDataset.source(_records(labels))
    assert resample_training_classes(source, {"balance": False, "imbalance": ""}, seed=0) is source
    skewed = resample_training_classes(source, {"imbalance": "affectnet"}, seed=0)
    skewed_counts = class_counts(np.array([int(r["label"]) for r in skewed]), 8)
    assert skewed_counts[1] == 40 and skewed_counts[7] == 1
    both = resample_training_classes(
        source, {"imbalance": "affectnet", "balance": True, "target": "median"}, seed=0,
        labels=labels)
    balanced_counts = class_counts(np.array([int(r["label"]) for r in both]), 8)
    assert len(set(balanced_counts.tolist())) == 1
    assert balanced_counts[0] == int(np.median(skewed_counts))
    with pytest.raises(ValueError, match="unknown keys \\['balanced'\\]"):
        resample_training_classes(source, {"balanced": True}, seed=0)


def test_class_sampling_hook_on_a_plain_source_with_a_label_map():
    from ferjax.data.class_sampling import resample_training_classes

    class Source:  # a random-access source that answers labels without decoding
        def __init__(self, records):
            self.records = records

        def __len__(self):
            return len(self.records)

        def __getitem__(self, i):
            return self.records[i]

        def field_values(self, key):
            return np.array([int(r[key]) for r in self.records])

    # Seven classes: contempt (7) dropped by the label map, so absent from the data.
    labels = np.repeat(np.arange(7), 30)
    table = [0, 1, 2, 3, 4, 5, 6, -1]
    out = resample_training_classes(Source(_records(labels)),
                                    {"imbalance": "affectnet", "balance": True, "target": "25"},
                                    seed=3, label_table=table)
    assert len(out) == 7 * 25
    np.testing.assert_array_equal(class_counts(out.field_values("label"), 8), [25] * 7 + [0])
    np.testing.assert_array_equal(out.field_values("index"),
                                  [int(out[i]["index"]) for i in range(len(out))])


def test_replicas_are_augmented_and_originals_are_not():
    rng = np.random.default_rng(0)
    records = [{"image": rng.integers(0, 255, (16, 16, 3)).astype(np.uint8),
                "label": np.int64(i % 2), "index": np.int64(i)} for i in range(6)]
    records += [{"image": rng.integers(0, 255, (16, 16, 3)).astype(np.uint8),
                 "label": np.int64(0), "index": np.int64(6 + i)} for i in range(6)]
    data = balance(grain.MapDataset.source(records), 9, seed=5)
    index, replica = balanced_plan([int(r["label"]) for r in records], 9, seed=5)
    changed = []
    for i in range(len(data)):
        same = np.array_equal(data[i]["image"], records[index[i]]["image"])
        if replica[i] == 0:
            assert same
        else:
            changed.append(not same)
    assert len(changed) == 6 and all(changed)


def test_the_face_target_moves_with_the_image():
    # FERAtt's face target must get the replica's flip and crop, or I_att is trained to undo them.
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (40, 40, 1), dtype=np.uint8)
    record = {"image": image, "face": image.astype(np.float32) / 255.0, "label": np.int64(0)}
    for flip in (0.1, 0.9):
        out = flip_and_crop(record, _FixedRng([0.3, 0.7, flip]), crop_fraction=0.8)
        assert out["face"].shape == (40, 40, 1) and out["face"].dtype == np.float32
        np.testing.assert_allclose(out["face"], out["image"] / 255.0, atol=1.0 / 255.0)
        assert not np.allclose(out["face"], record["face"], atol=0.1)


def test_jalal_paper_preset_replicates_whole_images():
    from ferjax.configs import jalal_self_attention
    sampling = jalal_self_attention.get_config("paper").data.class_sampling
    assert sampling.replicate == "whole" and sampling.target == "13000" and sampling.balance


def test_class_cycle_draws_class_i_mod_c_anew_each_epoch():
    from ferjax.data.class_sampling import ClassCycleSource, resample_training_classes
    labels = np.array([0, 0, 0, 0, 1, 2, 2, 0, 1])
    records = [{"label": np.int64(y), "index": i} for i, y in enumerate(labels)]
    cycle = resample_training_classes(records, {"class_cycle": True}, seed=4, labels=labels)
    assert isinstance(cycle, ClassCycleSource) and len(cycle) == len(records) and cycle.per_epoch
    for epoch in range(3):
        drawn = [cycle.epoch_item(i, epoch) for i in range(len(cycle))]
        assert [int(r["label"]) for r in drawn] == [i % 3 for i in range(len(cycle))]
    draws = {tuple(cycle.epoch_item(i, e)["index"] for i in range(9)) for e in range(5)}
    assert len(draws) > 1  # a new draw per epoch
    assert cycle[5]["index"] == cycle.epoch_item(5, 0)["index"]
    # Labels the experiment drops (-1) are never drawn; C counts the kept classes.
    dropped = resample_training_classes(records, {"class_cycle": True}, seed=4, labels=labels,
                                        label_table=[0, -1, 1, 2, 3, 4, 5, 6])
    assert {int(dropped[i]["label"]) for i in range(9)} == {0, 2}


def test_feratt_samples_classes_cyclically():
    from ferjax.configs import feratt
    assert feratt.get_config(None).data.class_sampling.to_dict() == {"class_cycle": True}
