"""FERSynth renderer: landmark semantics, AU effects, masks, regions, record contract."""

import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ferjax import labels, synth
from ferjax.synth.expression import Expression, neutral_expression

FRONT = synth.preset("front")
ALL_PRESETS = {name: synth.preset(name) for name in synth.PRESET_NAMES}


def _expression(**aus):
    v = np.zeros(synth.NUM_AUS)
    for name, value in aus.items():
        v[synth.au_index(name)] = value
    return Expression(v, v.copy())


def _controlled(expression, subject=3, config=FRONT):
    return synth.render_controlled(config, 0, subject, expression)


@pytest.mark.parametrize("name", synth.PRESET_NAMES)
def test_records_follow_the_contract(name):
    config = ALL_PRESETS[name]
    rec = synth.render_example(config, 5, 11)
    h, w = config.image_size
    c = config.channels
    assert rec["image"].dtype == np.uint8 and rec["image"].shape == (h, w, c)
    assert rec["label"].dtype == np.int64 and rec["label"] == 11 % 8
    assert rec["subject_id"].dtype == np.int64 and rec["fold"].dtype == np.int64
    assert rec["fold"] == rec["subject_id"] % config.num_folds
    assert rec["landmarks"].dtype == np.float32 and rec["landmarks"].shape == (68, 2)
    assert rec["mask"].dtype == np.uint8 and rec["mask"].shape == (h, w, 1)
    assert set(np.unique(rec["mask"])) <= {0, 255}
    assert rec["au"].dtype == np.float32 and rec["au"].shape == (16,)
    assert rec["au"].min() >= 0 and rec["au"].max() <= 1
    assert rec["au_regions"].dtype == np.uint16
    assert rec["au_regions"].shape == (-(-h // 4), -(-w // 4))
    assert rec["pose"].dtype == np.float32 and rec["pose"].shape == (3,)
    assert ("face" in rec) == config.composite
    assert rec["image"].std() > 10  # something was drawn


def test_class_aus_are_active_and_neutral_has_none_above_resting_level():
    for i, name in enumerate(labels.CLASSES):
        rec = synth.render_example(FRONT, 0, i)
        assert labels.CLASSES[int(rec["label"])] == name
        for au in synth.EMOTION_AUS[name]:
            assert rec["au"][synth.au_index(au)] > 0.4, (name, au)
        if name == "neutral":
            assert rec["au"].max() < 0.1  # front: idiosyncrasy 0.1 allows resting AUs < 0.06


def subject_identity(config, seed, subject_id):
    """The persistent identity of `subject_id` in dataset `seed`, as the renderer draws it."""
    from ferjax.synth.example import _identity_and_neutral
    return _identity_and_neutral(config.identity_variation, config.idiosyncrasy, seed,
                                 subject_id)[0]


def test_au_dropout_makes_prototypes_incomplete_but_never_empty():
    from ferjax.synth.expression import sample_expression
    config = synth.preset("front", au_dropout=1.0, idiosyncrasy=0.0)
    idn = subject_identity(config, 0, 0)
    fear = [synth.au_index(a) for a in synth.EMOTION_AUS["fear"]]
    for v in range(20):
        au = sample_expression(config, idn, "fear", np.random.default_rng(v)).au
        assert (au[fear] > 0).sum() == 1
        assert (np.delete(au, fear) == 0).all()
    full = synth.preset("front", idiosyncrasy=0.0)
    au = sample_expression(full, subject_identity(full, 0, 0), "fear",
                           np.random.default_rng(0)).au
    assert (au[fear] > 0.4).all()


@pytest.mark.parametrize("name", ["front", "pose", "composite"])
def test_upright_faces_stack_brows_eyes_nose_mouth(name):
    for i in range(8):
        lm = synth.render_example(ALL_PRESETS[name], 1, i)["landmarks"]
        brows, eyes = lm[17:27, 1].mean(), lm[36:48, 1].mean()
        nose, mouth, chin = lm[31:36, 1].mean(), lm[48:68, 1].mean(), lm[8, 1]
        assert brows < eyes < nose < mouth < chin


def test_image_left_eye_is_landmarks_36_to_41_and_is_drawn_there():
    rec = _controlled(neutral_expression())
    lm, img = rec["landmarks"], rec["image"][..., 0].astype(float)
    right_eye, left_eye = lm[36:42].mean(0), lm[42:48].mean(0)
    assert right_eye[0] < lm[30, 0] < left_eye[0]
    assert lm[17:22, 0].mean() < lm[22:27, 0].mean() and lm[0, 0] < lm[16, 0]
    for eye in (right_eye, left_eye):  # the pupil is darker than the cheek below the eye
        x, y = np.round(eye).astype(int)
        cheek = np.round(eye + (0, 0.5 * (lm[33, 1] - eye[1]))).astype(int)
        assert img[y, x] + 40 < img[cheek[1], cheek[0]]


def test_au12_raises_mouth_corners_and_au26_opens_lips():
    neutral = _controlled(neutral_expression())
    smile = _controlled(_expression(AU12=1.0))
    jaw = _controlled(_expression(AU26=1.0))
    n, s, j = neutral["landmarks"], smile["landmarks"], jaw["landmarks"]
    jaw_image, neutral_image = jaw["image"][..., 0].astype(int), neutral["image"][..., 0]
    iod = np.linalg.norm(n[36:42].mean(0) - n[42:48].mean(0))
    for corner in (48, 54):
        assert n[corner, 1] - s[corner, 1] > 0.08 * iod  # image y points down
    assert abs(s[48, 0] - n[48, 0]) > 0.03 * iod and s[54, 0] > n[54, 0]
    gap_n, gap_j = n[66, 1] - n[62, 1], j[66, 1] - j[62, 1]
    assert gap_j - gap_n > 0.2 * iod
    assert j[8, 1] > n[8, 1] + 0.15 * iod  # the jaw drops with the lower lip
    mid = np.round(0.5 * (j[62] + j[66])).astype(int)  # the open mouth is dark inside
    assert jaw_image[mid[1], mid[0]] + 40 < neutral_image[mid[1], mid[0]]


def test_every_au_region_covers_the_pixels_that_au_changes():
    neutral = _controlled(neutral_expression())
    for k, name in enumerate(synth.AU_NAMES):
        rec = _controlled(_expression(**{name: 1.0}))
        changed = np.abs(rec["image"].astype(int) - neutral["image"].astype(int))[..., 0] > 8
        region = synth.au_region_mask(rec["au_regions"], [k], rec["image"].shape)
        assert changed.sum() > 50, name  # every AU visibly changes the face
        assert (changed & region).sum() >= 0.9 * changed.sum(), name
        assert region.mean() < 0.45, name


def test_au_regions_cover_the_changed_pixels_and_nothing_for_inactive_aus():
    neutral = _controlled(neutral_expression())
    smile = _controlled(_expression(AU12=1.0))
    k = synth.au_index("AU12")
    region = synth.au_region_mask(smile["au_regions"], [k], smile["image"].shape)
    changed = np.abs(smile["image"].astype(int) - neutral["image"].astype(int))[..., 0] > 8
    assert changed.sum() > 50
    assert (changed & region).sum() >= 0.9 * changed.sum()
    assert region.mean() < 0.35  # a local region, not the whole image
    for corner in (48, 54):
        x, y = np.round(smile["landmarks"][corner]).astype(int)
        assert region[y, x]
    others = [i for i in range(16) if i != k]
    assert not synth.au_region_mask(smile["au_regions"], others, smile["image"].shape).any()
    assert not neutral["au_regions"].any()


def test_au_region_mask_decodes_bits_and_checks_shapes():
    grid = np.zeros((3, 2), np.uint16)
    grid[1, 0] = (1 << 3) | (1 << 15)
    mask = synth.au_region_mask(grid, [15], (10, 7))
    assert mask.shape == (10, 7) and mask.dtype == bool
    assert mask[4:8, 0:4].all() and mask.sum() == 16
    assert not synth.au_region_mask(grid, [0, 1], (10, 7)).any()
    with pytest.raises(ValueError, match="au_regions has shape"):
        synth.au_region_mask(grid, [3], (20, 7))
    with pytest.raises(ValueError, match="out of range"):
        synth.au_region_mask(grid, [16], (10, 7))


@pytest.mark.parametrize("name", synth.PRESET_NAMES)
def test_masks_cover_all_landmarks(name):
    config = ALL_PRESETS[name]
    h, w = config.image_size
    for i in range(6):
        rec = synth.render_example(config, 2, i)
        xy = np.round(rec["landmarks"]).astype(int)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
        assert inside.sum() >= 60
        assert (rec["mask"][xy[inside, 1], xy[inside, 0], 0] == 255).all()


def test_pose_preset_uses_the_five_camera_yaws():
    config = ALL_PRESETS["pose"]
    yaws = np.array([synth.render_example(config, 0, i)["pose"][0] for i in range(40)])
    nearest = np.array(config.yaw_angles)[np.abs(yaws[:, None] - config.yaw_angles).argmin(1)]
    assert np.abs(yaws - nearest).max() <= config.yaw_jitter + 1e-4
    assert len(set(nearest.tolist())) == 5


def test_composite_face_is_the_image_inside_the_mask():
    rec = synth.render_example(ALL_PRESETS["composite"], 0, 3)
    outside = rec["mask"][..., 0] == 0
    assert rec["face"].shape == rec["image"].shape
    assert rec["face"][outside].max() <= 60  # only anti-aliased mask borders leak out
    assert np.mean(rec["face"][outside] == 0) > 0.95


def _digest(records):
    h = hashlib.sha256()
    for rec in records:
        for key in sorted(rec):
            h.update(key.encode())
            h.update(np.ascontiguousarray(rec[key]).tobytes())
    return h.hexdigest()


def test_same_config_seed_index_gives_identical_bytes_in_another_process():
    jobs = [("wild", 7, 3), ("front", 0, 12), ("composite", 1, 5)]
    here = _digest(synth.render_example(ALL_PRESETS[n], s, i) for n, s, i in jobs)
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(__import__('pathlib').Path(__file__).resolve().parents[1])!r})
        from ferjax import synth
        from tests.test_synth_render import _digest
        print(_digest(synth.render_example(synth.preset(n), s, i) for n, s, i in {jobs!r}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == here
    assert _digest([synth.render_example(ALL_PRESETS["wild"], 8, 3)]) != _digest(
        [synth.render_example(ALL_PRESETS["wild"], 7, 3)])
