"""The compositing renderer: ranges, geometric alignment, luminance clipping, determinism."""

import dataclasses

import cv2
import grain
import numpy as np
import pytest

from ferjax.data.composite import background_sources, render
from ferjax.data.composite.settings import CompositeSettings, evaluation_settings
from ferjax.data.composite.transform import CompositeTransform
from ferjax.synth import backgrounds

# The geometry and target tests use a uniform synthetic face: the code's min–max norm would map
# it to black and its 7×7 erosion eats a tenth of a 48-pixel face, so they run with the light
# cleaning and no norm; the code's choices have value tests in test_composite_code_fidelity.py.
SMALL = CompositeSettings(render_size=48, pad=4, output_size=32, mask_cleaning="light",
                          minmax_norm=False)


def _face_record(size=40, value=180):
    """A bright elliptical 'face' on black, its mask, and landmarks on the ellipse outline."""
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, (size // 2, size // 2), (size // 3, size // 2 - 4), 0, 0, 360, 255, -1)
    image = np.where(mask[..., None] > 0, value, 0).astype(np.uint8).repeat(3, axis=-1)
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    landmarks = np.stack([size / 2 + (size // 3) * np.cos(angles),
                          size / 2 + (size // 2 - 4) * np.sin(angles)], -1).astype(np.float32)
    return {"image": image, "mask": mask[..., None], "label": np.int64(3),
            "landmarks": landmarks}


def test_outputs_have_the_contract_shapes_and_ranges():
    rng = np.random.default_rng(0)
    record = _face_record()
    background = backgrounds.colour_blobs(rng, SMALL.canvas_size)
    out = render.render(record["image"], record["mask"], background, rng, SMALL)
    assert out["image"].shape == out["face"].shape == (32, 32, 3)
    assert out["mask"].shape == (32, 32, 1)
    assert out["image"].dtype == out["face"].dtype == out["mask"].dtype == np.uint8
    assert set(np.unique(out["mask"])) <= {0, 255}
    grey = render.render(record["image"], record["mask"], background, rng,
                            dataclasses.replace(SMALL, channels=1))
    assert grey["image"].shape == (32, 32, 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mask_face_and_landmarks_stay_aligned_under_the_hardest_warp(seed):
    settings = dataclasses.replace(evaluation_settings(SMALL), noise_prob=0.0,
                                   blur_prob=0.0, clahe_prob=0.0)
    record = _face_record()
    rng = np.random.default_rng(seed)
    background = np.zeros((settings.canvas_size,) * 2 + (3,), np.uint8)
    out = render.render(record["image"], record["mask"], background, rng, settings,
                           landmarks=record["landmarks"])
    assert not np.allclose(out["matrix"][:, :2], np.eye(2))  # the face really moved
    face_pixels = out["face"][..., 0] > 60
    mask_pixels = out["mask"][..., 0] > 0
    iou = (face_pixels & mask_pixels).sum() / (face_pixels | mask_pixels).sum()
    assert iou > 0.85
    # An affine map sends the ellipse's centre (mean of its outline points) to the centre of
    # the warped region.
    ys, xs = np.nonzero(mask_pixels)
    centre = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
    np.testing.assert_allclose(out["landmarks"].mean(axis=0), centre, atol=1.0)


def test_au_region_bits_follow_the_face():
    settings = dataclasses.replace(evaluation_settings(SMALL), noise_prob=0.0,
                                   blur_prob=0.0, clahe_prob=0.0)
    record = _face_record()
    # 4×4 cells over the 40×40 face image: "AU 0" on face cells of the upper half, "AU 1" on
    # those of the lower half (a cell counts as face when fully inside the mask).
    inside = record["mask"][..., 0].reshape(10, 4, 10, 4).min(axis=(1, 3)) > 0
    regions = np.zeros((10, 10), np.uint16)
    regions[:5][inside[:5]] = 0b01
    regions[5:][inside[5:]] = 0b10
    background = np.zeros((settings.canvas_size,) * 2 + (3,), np.uint8)
    out = render.render(record["image"], record["mask"], background,
                           np.random.default_rng(1), settings, au_regions=regions)
    cells = out["au_regions"]
    assert cells.shape == (8, 8) and cells.dtype == np.uint16
    assert (cells & 1).any() and (cells & 2).any()
    # Each AU's cells lie on the warped face: their 4×4 blocks touch the output mask, up to
    # one cell at the border (the mask is eroded by a pixel when cleaned).
    mask_cells = out["mask"][..., 0].reshape(8, 4, 8, 4).max(axis=(1, 3)).astype(np.uint8)
    assert np.all(cv2.dilate(mask_cells, np.ones((3, 3), np.uint8))[cells > 0])
    assert np.mean(mask_cells[cells > 0] > 0) > 0.9
    # ... and keep their order along the face's (rotated) vertical axis.
    up = np.array([-out["matrix"][0, 1], -out["matrix"][1, 1]])  # image of the face's "up"
    centre = lambda bits: np.argwhere(cells & bits).mean(axis=0)[::-1]  # (x, y) in cells
    assert np.dot(centre(1) - centre(2), up) > 0
    grain_record = dict(record, au_regions=regions, box=np.zeros(4, np.float32))
    mapped = CompositeTransform(settings).random_map(grain_record,
                                                               np.random.default_rng(0))
    assert mapped["au_regions"].shape == (8, 8) and "box" not in mapped


def test_luminance_factor_is_the_ratio_then_clipped():
    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True

    def factor(face_value, back_value):
        face = np.full((8, 8, 3), face_value, np.uint8)
        back = np.full((8, 8, 3), back_value, np.uint8)
        return render.match_luminance(face, mask, back, (0.5, 1.5))

    l_of = lambda v: float(cv2.cvtColor(np.full((1, 1, 3), v, np.uint8), cv2.COLOR_RGB2LAB)[0, 0, 0])
    adjusted, w = factor(100, 110)
    assert w == pytest.approx(l_of(110) / l_of(100))
    assert 1.0 < w < 1.5
    assert factor(200, 20)[1] == 0.5      # background far darker: clipped at 0.5
    assert factor(40, 250)[1] == 1.5      # background far brighter: clipped at 1.5
    dark, w = factor(200, 20)
    lab = cv2.cvtColor(dark, cv2.COLOR_RGB2LAB)[..., 0].astype(float)
    assert lab[mask].mean() == pytest.approx(0.5 * l_of(200), abs=1.5)
    assert render.match_luminance(dark, np.zeros((8, 8), bool), dark)[1] == 1.0


def test_face_target_skips_the_illumination_change():
    settings = dataclasses.replace(SMALL, noise_prob=0.0, blur_prob=0.0, clahe_prob=0.0,
                                   max_rotation=0.0, max_translation=0.0, max_warp=0.0, scale=0.0)
    record = _face_record(value=180)
    background = np.full((settings.canvas_size,) * 2 + (3,), 30, np.uint8)
    out = render.render(record["image"], record["mask"], background,
                           np.random.default_rng(0), settings)
    assert out["luminance_factor"] == 0.5
    inside = out["mask"][..., 0] > 0
    inner = cv2.erode(inside.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.all(np.abs(out["face"][..., 0][inner].astype(int) - 180) <= 2)
    assert out["image"][..., 0][inner].mean() < 120   # the composite face was darkened
    near = cv2.dilate(inside.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert np.all(out["face"][~near] == 0)             # black outside the mask


def test_grain_transform_is_deterministic_per_seed_and_index():
    records = [_face_record(value=v) for v in (120, 160, 200)]
    transform = CompositeTransform(SMALL)
    ds = grain.MapDataset.source(records).random_map(transform, seed=7)
    first, again = ds[1], ds[1]
    np.testing.assert_array_equal(first["image"], again["image"])
    assert first["label"] == 3 and set(first) >= {"image", "mask", "face", "landmarks"}
    other = grain.MapDataset.source(records).random_map(transform, seed=8)[1]
    assert not np.array_equal(first["image"], other["image"])
    assert not np.array_equal(ds[0]["image"], ds[2]["image"])


def test_evaluation_settings_are_harder():
    hard = evaluation_settings()
    assert (hard.max_rotation, hard.max_translation, hard.max_warp) == (45.0, 0.3, 0.2)
    assert CompositeSettings().canvas_size == 148


def test_background_sources(tmp_path):
    rng = np.random.default_rng(0)
    stack = np.random.default_rng(1).integers(0, 255, (2, 30, 20, 3)).astype(np.uint8)
    synth = background_sources.as_background_source("fersynth")(rng, 40)
    assert synth.shape == (40, 40, 3) and synth.dtype == np.uint8 and synth.std() > 0
    assert background_sources.as_background_source("") is backgrounds.colour_blobs
    crop = background_sources.as_background_source(stack)(rng, 56)
    assert crop.shape == (56, 56, 3) and crop.dtype == np.uint8
    cv2.imwrite(str(tmp_path / "a.png"), stack[0])
    folder = background_sources.as_background_source(tmp_path)
    assert folder(rng, 16).shape == (16, 16, 3)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    broken = background_sources.FolderBackgrounds(str(tmp_path))
    with pytest.raises(ValueError, match="broken.jpg"):
        for seed in range(20):
            broken(np.random.default_rng(seed), 16)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        background_sources.as_background_source(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no images"):
        background_sources.as_background_source(empty)


def test_bad_records_and_settings_are_named():
    with pytest.raises(KeyError, match="mask"):
        CompositeTransform(SMALL).random_map({"image": _face_record()["image"]},
                                                       np.random.default_rng(0))
    with pytest.raises(ValueError, match="channels"):
        CompositeSettings(channels=2)
    with pytest.raises(ValueError, match="luminance_clip"):
        CompositeSettings(luminance_clip=(1.5, 0.5))


class _DrawTransform:
    """Stands in for the renderer: the 'render' is the record's id plus one draw of the rng."""

    def random_map(self, record, rng):
        return {"id": record["id"], "draw": rng.integers(1 << 30)}


def _epochs(train_renders, n=4, epochs=3):
    from ferjax.data import pipeline
    from ferjax.data.composite.sources import CompositeSource
    parent = [{"id": i} for i in range(n)]
    source = CompositeSource(parent, _DrawTransform(), seed=7,
                             per_epoch=train_renders == "per_epoch")
    ds = pipeline.train_dataset(source, lambda record, rng: record, seed=0, local_batch_size=n)
    batches = [next(it) for it in [iter(ds)] for _ in range(epochs)]
    # Each batch is one epoch (batch = N): every face once, in a new order.
    for batch in batches:
        assert sorted(batch["id"].tolist()) == list(range(n))
    return [dict(zip(b["id"].tolist(), b["draw"].tolist())) for b in batches], source


def test_training_composites_are_rendered_anew_every_epoch():
    per_epoch, source = _epochs("per_epoch")
    for face in range(4):
        assert len({epoch[face] for epoch in per_epoch}) == 3  # a new render each epoch
    assert source.epoch_item(2, 1) == source.epoch_item(2, 1)  # still deterministic
    fixed, _ = _epochs("fixed")
    for face in range(4):
        assert len({epoch[face] for epoch in fixed}) == 1


def test_unknown_train_renders_is_named():
    from ferjax.data.composite.sources import composite_sources
    with pytest.raises(ValueError, match="train_renders"):
        composite_sources({"composite": {"enabled": True, "train_renders": "daily"}}, [], [],
                          seed=0)


def test_per_epoch_training_stream_resumes_from_its_state():
    from ferjax.data import pipeline
    from ferjax.data.composite.sources import CompositeSource
    source = CompositeSource([{"id": i} for i in range(5)], _DrawTransform(), seed=2,
                             per_epoch=True)
    make = lambda: iter(pipeline.train_dataset(source, lambda r, rng: r, seed=1,  # noqa: E731
                                               local_batch_size=3))
    it = make()
    for _ in range(4):  # past the first epoch boundary
        next(it)
    state = it.get_state()
    expected = [next(it)["draw"] for _ in range(3)]
    resumed = make()
    resumed.set_state(state)
    for e in expected:
        np.testing.assert_array_equal(next(resumed)["draw"], e)
