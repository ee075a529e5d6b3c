"""Device-resident training input: same batches as the host transform for the same decisions,
epochs as permutations, balanced plans, 8 devices = 1 device, placement choices and errors."""


import jax
import numpy as np
import pytest

from ferjax.configs import pieces
from ferjax.data import balance, device_input, noise, pipeline, sources

N, H, W, CROP = 12, 20, 18, (16, 14)
KEYS = ("landmarks", "mask", "face")
AUGMENT = {"flip": True, "random_crop": True, "brightness": 0.2, "contrast": (0.7, 1.3)}


def _records(n=N):
    # Non-constant RGB images (the run is grey: the conversion is exercised), masks, faces and
    # landmarks with distinct points so mirroring shows.
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        image = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
        mask = (rng.random((H, W, 1)) > 0.5).astype(np.uint8) * 255
        out.append({"image": image, "mask": mask, "face": image * (mask > 127),
                    "landmarks": rng.uniform(0, W - 1, (68, 2)).astype(np.float32),
                    "label": np.int64(i % 4)})
    return out


def _data(records, normalisation="per_channel"):
    spec = pipeline.ExampleSpec(CROP, 1, (0, 1, 2, 3), KEYS)
    src = sources.ListSource(records)
    norm = pipeline.estimate_normalisation(src, spec, 64, normalisation)
    return pipeline.Data(train=src, eval=src, spec=spec, norm=norm, info={})


def _mesh(devices):
    return jax.make_mesh((len(devices),), ("data",), axis_types=(jax.sharding.AxisType.Auto,),
                         devices=devices)


@pytest.fixture(scope="module")
def jitted():
    return {"augment": jax.jit(device_input.augment_rows),
            "batch": jax.jit(device_input.train_batch, static_argnames="batch_size"),
            "elements": jax.jit(device_input.batch_elements, static_argnames="batch_size"),
            "decisions": jax.jit(device_input.batch_decisions, static_argnames="batch_size")}


@pytest.fixture(scope="module")
def records():
    return _records()


def _host_batch(data, space, elements, decisions):
    transform = pipeline.TrainTransform(data.spec, data.norm, photometric_space=space, **AUGMENT)
    examples = [transform.apply(data.spec.prepare(data.train[int(i)]), d)
                for i, d in zip(elements, decisions)]
    return {k: np.stack([e[k] for e in examples]) for k in examples[0]}


def _assert_same_batch(host, device):
    assert sorted(host) == sorted(device)
    for k in host:
        assert np.asarray(device[k]).dtype == host[k].dtype, k
        np.testing.assert_allclose(np.asarray(device[k]), host[k], rtol=1e-5, atol=1e-5,
                                   err_msg=k)


@pytest.mark.parametrize("space,normalisation", [("pixels", "per_channel"),
                                                 ("standardised", "per_pixel")])
def test_same_decisions_give_the_host_transforms_batch(jitted, records, space, normalisation):
    data = _data(records, normalisation)
    resident = device_input.place(data, {**AUGMENT, "photometric_space": space},
                                  _mesh(jax.devices()[:1]))
    elements = np.array([3, 0, 7, 11, 5, 3])
    decisions = [pipeline.Decisions(top=t, left=l, flip=f, brightness=b, contrast=c)
                 for t, l, f, b, c in [(0, 0, True, 0.1, 1.2), (4, 4, False, -0.2, 0.7),
                                       (2, 1, True, 0.0, 1.0), (4, 0, True, 0.05, 0.9),
                                       (1, 3, False, 0.15, 1.3), (3, 2, True, -0.1, 0.8)]]
    host = _host_batch(data, space, elements, decisions)
    device = jitted["augment"](resident, resident.order[elements],
                               device_input.stack_decisions(decisions))
    _assert_same_batch(host, device)
    # The flip really mirrored: a flipped example differs from its unflipped self.
    unflipped = _host_batch(data, space, elements[:1],
                            [pipeline.Decisions(0, 0, False, 0.1, 1.2)])
    assert np.abs(unflipped["image"][0] - host["image"][0]).max() > 0.1
    assert np.abs(unflipped["landmarks"][0] - host["landmarks"][0]).max() > 1.0


def test_train_batch_is_the_host_transform_of_its_own_draws(jitted, records):
    data = _data(records)
    resident = device_input.place(data, AUGMENT, _mesh(jax.devices()[:1]))
    key = jax.random.key(7)
    for step in (0, 3):
        batch = jitted["batch"](resident, key, step, batch_size=5)
        elements = np.asarray(jitted["elements"](resident, key, step, batch_size=5))
        drawn = jax.device_get(jitted["decisions"](resident, key, step, batch_size=5))
        decisions = [pipeline.Decisions(int(drawn["top"][j]), int(drawn["left"][j]),
                                        bool(drawn["flip"][j]), float(drawn["brightness"][j]),
                                        float(drawn["contrast"][j])) for j in range(5)]
        _assert_same_batch(_host_batch(data, "pixels", elements, decisions), batch)
    assert 0 <= drawn["top"].min() and drawn["top"].max() <= H - CROP[0]
    assert 0 <= drawn["left"].min() and drawn["left"].max() <= W - CROP[1]
    assert np.all(np.abs(drawn["brightness"]) <= 0.2)
    assert np.all((drawn["contrast"] >= 0.7) & (drawn["contrast"] <= 1.3))


def test_every_element_once_per_epoch_and_epochs_differ(jitted, records):
    resident = device_input.place(_data(records), AUGMENT, _mesh(jax.devices()[:1]))
    key = jax.random.key(0)
    # Batches of 5 over 12 elements straddle epochs; 9 steps cover 3 whole epochs.
    stream = np.concatenate([np.asarray(jitted["elements"](resident, key, s, batch_size=5))
                             for s in range(9)])
    epochs = [stream[e * N:(e + 1) * N] for e in range(3)]
    for epoch in epochs:
        np.testing.assert_array_equal(np.sort(epoch), np.arange(N))
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])
    # A step's batch depends only on (key, step): recomputing it (a resume) gives it again.
    np.testing.assert_array_equal(
        np.asarray(jitted["elements"](resident, key, 4, batch_size=5)), stream[20:25])
    # A batch larger than the epoch wraps through several epochs, each still a permutation.
    big = np.asarray(jitted["elements"](resident, key, 0, batch_size=30))
    np.testing.assert_array_equal(big[:24], stream[:24])


def test_balanced_plan_rows_are_the_sources_records():
    records = _records(10)
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 3])
    for r, y in zip(records, labels):
        r["label"] = np.int64(y)
    balanced = balance.balance(sources.ListSource(records), 4, seed=5, labels=labels)
    _, replica = balanced.plan
    assert replica.max() >= 1  # class 3 (one example) is replicated with augmentation
    plan = device_input.row_plan(balanced)
    rows = device_input.decode_rows(plan, pipeline.ExampleSpec(CROP, 1, (0, 1, 2, 3), KEYS))
    assert plan.num_rows == len(np.unique(balanced.plan[0][replica == 0])) + (replica > 0).sum()
    for i in range(len(balanced)):
        record, row = balanced[i], int(plan.order[i])
        np.testing.assert_array_equal(rows["image"][row], record["image"])
        np.testing.assert_array_equal(rows["landmarks"][row], record["landmarks"])
        assert rows["label"][row] == record["label"]


def test_eight_devices_give_the_batches_of_one(jitted, records):
    assert jax.device_count() == 8
    data = _data(records)
    key = jax.random.key(11)
    one = device_input.place(data, AUGMENT, _mesh(jax.devices()[:1]))
    expected = [jax.device_get(jitted["batch"](one, key, s, batch_size=16)) for s in (0, 1)]
    for layout in device_input.LAYOUTS:
        eight = device_input.place(data, AUGMENT, _mesh(jax.devices()), layout=layout)
        for s, want in zip((0, 1), expected):
            got = jitted["batch"](eight, key, s, batch_size=16)
            assert len(got["image"].sharding.device_set) == 8
            for k in want:
                np.testing.assert_array_equal(np.asarray(got[k]), want[k], err_msg=k)


def test_float_images_of_the_noise_protocol_match_the_host(jitted, records):
    # config.data.noise_sigma > 0 gives float32 images in [0, 1]: stored and converted as such.
    noisy = noise.NoisySource(sources.ListSource(records[:4]), 0.05, seed=1)
    clean = _data(records[:4])
    data = pipeline.Data(noisy, noisy, clean.spec, clean.norm, {})
    resident = device_input.place(data, AUGMENT, _mesh(jax.devices()[:1]))
    assert resident.rows["image"].dtype == np.float32
    elements = np.array([2, 0, 3])
    decisions = [pipeline.Decisions(1, 2, True, 0.1, 1.1),
                 pipeline.Decisions(0, 4, False, 0.0, 0.8),
                 pipeline.Decisions(4, 0, True, -0.2, 1.3)]
    device = jitted["augment"](resident, resident.order[elements],
                               device_input.stack_decisions(decisions))
    _assert_same_batch(_host_batch(data, "pixels", elements, decisions), device)


def test_records_of_several_sizes_are_refused_by_name(records):
    ragged = records[:3] + [{**records[3], "image": records[3]["image"][:-2]}]
    data = _data(records[:4])
    data = pipeline.Data(sources.ListSource(ragged), data.eval, data.spec, data.norm, {})
    with pytest.raises(ValueError, match=r"one size.*'image'.*placement='host'"):
        device_input.place(data, AUGMENT, _mesh(jax.devices()[:1]))


def test_placement_choices_and_errors(records):
    data = _data(records)
    mb = device_input.resident_nbytes(data) / 1e6
    # 12 rows of a 20×18×3 image, face, mask, landmarks and label, plus the order.
    assert mb * 1e6 == 12 * (20 * 18 * 3 * 2 + 20 * 18 + 68 * 2 * 4 + 4) + 12 * 4
    assert device_input.choose_placement(data, {}, platform="gpu") == "device"
    assert device_input.choose_placement(data, {}, platform="cpu") == "host"
    defaults = pieces.fersynth_data()
    assert (defaults.placement, defaults.device_budget_mb) == ("auto",
                                                               device_input.DEFAULT_BUDGET_MB)
    assert device_input.choose_placement(data, {"device_budget_mb": mb / 2},
                                         platform="gpu") == "host"
    assert device_input.choose_placement(data, {"placement": "host"}) == "host"
    with pytest.raises(ValueError, match=r"'train'.*0\.0\d+ MB.*device_budget_mb=0\.001"):
        device_input.choose_placement(data, {"placement": "device", "device_budget_mb": 0.001,
                                             "train_split": "train"})
    with pytest.raises(ValueError, match=r"config\.data\.placement='gpu'.*'auto', 'device'"):
        device_input.choose_placement(data, {"placement": "gpu"})
    per_epoch = _PerEpoch(data.train)
    rendered = pipeline.Data(per_epoch, data.eval, data.spec, data.norm, {})
    assert device_input.choose_placement(rendered, {}, platform="gpu") == "host"
    with pytest.raises(ValueError, match="renders new examples every epoch"):
        device_input.choose_placement(rendered, {"placement": "device"})


class _PerEpoch:
    per_epoch = True

    def __init__(self, parent):
        self.parent = parent

    def __len__(self):
        return len(self.parent)

    def __getitem__(self, i):
        return self.parent[i]
