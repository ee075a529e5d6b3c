"""configs/feratt.py and the compositing hook in the input pipeline, on tiny in-memory faces."""

import cv2
import numpy as np
import pytest

from ferjax.configs import feratt as feratt_config
from ferjax.data import pipeline, sources
from ferjax.data.composite.sources import CompositeSource, FaceTargetSource


def _face_records(n, seed, size=48):
    """Elliptical grey 'faces' with a class-coded dark bar, their masks and subjects."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        label = i % 8
        mask = np.zeros((size, size), np.uint8)
        cv2.ellipse(mask, (size // 2, size // 2), (size // 3, size // 2 - 3), 0, 0, 360, 255, -1)
        image = np.where(mask > 0, int(rng.integers(150, 220)), 0).astype(np.uint8)
        y = 12 + 3 * label
        image[y:y + 3, size // 2 - 8:size // 2 + 8] = 40
        subject = int(rng.integers(0, 6))
        records.append({"image": image[..., None], "mask": mask[..., None],
                        "label": np.int64(label), "subject_id": np.int64(subject),
                        "fold": np.int64(subject % 5)})
    return records


def _memory_config(arg):
    c = feratt_config.get_config(arg)
    c.data.source = "memory"
    c.data.records = {"train": sources.ListSource(_face_records(24, 1)),
                      "validation": sources.ListSource(_face_records(8, 2))}
    return c


@pytest.mark.parametrize("variant,terms", [
    ("baseline", {"emotion_ce"}),
    ("cls", {"emotion_ce", "attention_reconstruction"}),
    ("rep_cls", {"emotion_ce", "attention_reconstruction", "gaussian_manifold"}),
])
def test_variants_choose_model_and_losses(variant, terms):
    c = feratt_config.get_config(f"variant={variant}")
    assert set(c.losses) == terms
    assert c.model.variant == feratt_config.VARIANTS[variant]
    assert c.data.composite.enabled and c.data.crop_size == (64, 64)
    paper = feratt_config.get_config(f"variant={variant},paper")
    assert paper.data.crop_size == (128, 128) and paper.train.batch_size == 200
    with pytest.raises(ValueError, match="variant"):
        feratt_config.get_config("variant=rep")


def test_pipeline_hook_composites_train_and_eval_deterministically():
    c = _memory_config("variant=rep_cls")
    data = pipeline.build_data(c.data, seed=0)
    # The code's class-cycling loader over per-epoch composites.
    assert isinstance(data.train.parent, CompositeSource) and data.train.per_epoch
    assert data.info["image_shape"] == (64, 64, 3)
    assert data.eval.transform.settings.max_rotation == 45.0  # harder at evaluation
    record = data.train[3]
    np.testing.assert_array_equal(record["image"], data.train[3]["image"])
    assert record["image"].shape == (64, 64, 3) and record["face"].shape == (64, 64, 3)
    example = pipeline.EvalTransform(data.spec, data.norm).map(record)
    assert example["face"].min() >= 0.0 and example["face"].max() <= 1.0
    assert set(np.unique(example["mask"])) <= {0.0, 1.0}
    disabled = _memory_config("variant=rep_cls,render=false")
    disabled.data.crop_size = (48, 48)  # records are used at their stored size
    plain = pipeline.build_data(disabled.data, seed=0).train.parent
    assert isinstance(plain, FaceTargetSource)
    raw = plain.parent[0]
    np.testing.assert_array_equal(plain[0]["face"], raw["image"] * (raw["mask"] > 127))


def test_stored_records_are_built_at_the_input_size():
    # The renderer rescales faces itself, so rendered runs keep the preset's 128-pixel records;
    # records used as they are must already be the input size (a centre crop would cut the face).
    rendered = feratt_config.get_config("cv")
    assert dict(rendered.data.builder_kwargs) == {}
    stored = feratt_config.get_config("render=false,cv")
    assert tuple(stored.data.builder_kwargs["image_size"]) == (64, 64)
    assert tuple(stored.data.crop_size) == (64, 64)
    assert tuple(feratt_config.get_config("render=false,size=128")
                 .data.builder_kwargs["image_size"]) == (128, 128)


def test_real_datasets_are_built_with_landmark_hull_masks():
    c = feratt_config.get_config("data=ckplus")
    assert c.data.name == "ckplus" and c.protocol == "kfold"
    assert dict(c.data.builder_kwargs) == {"image_size": 128, "grey": True, "crop": "landmarks",
                                           "crop_margin": 0.2, "mask": True,
                                           "illumination": "none"}
    plain = feratt_config.get_config("data=ckplus,render=false,crop=detect")
    assert plain.data.builder_kwargs.image_size == 64
    assert plain.data.builder_kwargs.crop == "detect"
    with pytest.raises(ValueError, match="crop='box'"):
        feratt_config.get_config("data=ckplus,crop=box")
