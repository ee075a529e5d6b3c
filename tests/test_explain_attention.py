import numpy as np
import pytest

from ferjax import synth
from ferjax.explain import attention


def test_upsampled_map_keeps_unit_mass_and_location():
    weights = np.zeros((1, 4, 3), np.float32)
    weights[0, 1, 2] = 1.0
    up = attention.upsample_map(weights, (16, 12))
    assert up.shape == (1, 16, 12)
    assert up.sum() == pytest.approx(1.0, rel=1e-5)
    r, c = np.unravel_index(up[0].argmax(), (16, 12))
    assert 4 <= r < 8 and 8 <= c < 12   # the hot cell's block


def test_mass_inside_by_hand():
    maps = np.array([[[0.5, 0.25], [0.25, 0.0]]])
    region = np.array([[[True, False], [True, True]]])
    np.testing.assert_allclose(attention.mass_inside(maps, region), [0.75])


def test_au_regions_of_a_fersynth_face_are_cropped_like_the_input():
    config = synth.preset("front")
    record = synth.render_example(config, 0, 3)
    h, w = record["image"].shape[:2]
    crop = lambda m: m[8:8 + 144, 6:6 + 112]  # noqa: E731
    regions = attention.au_union_regions([record], (144, 112), crop)
    assert regions.shape == (1, 144, 112)
    active = np.flatnonzero(record["au"] > 0)
    full = synth.au_region_mask(record["au_regions"], active, (h, w))
    np.testing.assert_array_equal(regions[0], full[8:152, 6:118])


def test_per_class_means_average_each_class_separately():
    acc = attention.PerClassMeans(3, (2, 2))
    images = np.stack([np.full((2, 2), v, np.float32) for v in (1.0, 3.0, 5.0)])
    maps = np.full((3, 2, 2), 0.25, np.float32)
    acc.add(images, maps, np.array([0, 0, 2]))
    means = acc.means()
    np.testing.assert_allclose(means["image"][0], 2.0)
    np.testing.assert_allclose(means["image"][2], 5.0)
    np.testing.assert_array_equal(means["count"], [2, 0, 1])
    np.testing.assert_allclose(means["product"][0], 0.5)


def test_fig5_offers_the_mean_of_products_and_the_product_of_means():
    # Two faces of one class whose bright pixel is where their map is: the reductions differ.
    images = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    maps = np.array([[[0.8, 0.2]], [[0.2, 0.8]]])
    acc = attention.PerClassMeans(1, (1, 2))
    acc.add(images, maps, np.array([0, 0]))
    means = acc.means()
    np.testing.assert_allclose(means["product"][0], [[0.4, 0.4]])           # (0.8 + 0) / 2
    np.testing.assert_allclose(means["product_of_means"][0], [[0.25, 0.25]])  # 0.5 × 0.5


def test_attention_figure_draws_either_bottom_row(tmp_path):
    from ferjax.viz import figures
    acc = attention.PerClassMeans(2, (4, 4))
    acc.add(np.random.default_rng(0).random((2, 4, 4)), np.full((2, 4, 4), 1 / 16), np.array([0, 1]))
    for bottom in ("product", "product_of_means"):
        assert figures.attention_per_emotion_figure(acc.means(), ["a", "b"],
                                                    tmp_path / f"{bottom}.png", bottom).exists()
    with pytest.raises(ValueError, match="bottom"):
        figures.attention_per_emotion_figure(acc.means(), ["a", "b"], tmp_path / "x.png", "sum")
