"""FERAtt figures and robustness helpers: files written, t-SNE keeps clusters, IoU, AU shares."""

import numpy as np
import pytest

from ferjax.evaluation import robustness
from ferjax.viz import feratt_figures


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (3, 16, 16, 1))
    feratt_figures.attention_grid({"input": images, "I_att": images.repeat(3, -1)},
                                  titles=["a", "b", "c"], path=str(tmp_path / "grid.png"))
    feratt_figures.attention_across_noise(list(images), [0.01, 0.1, 0.3], scores=[0.9, 0.8, 0.5],
                                          path=str(tmp_path / "noise_att.png"))
    feratt_figures.noise_robustness_curves(robustness.NOISE_SIGMAS,
                                           {"baseline": np.linspace(0.8, 0.4, 7)},
                                           path=str(tmp_path / "curves.png"))
    for name in ("grid.png", "noise_att.png", "curves.png"):
        assert (tmp_path / name).stat().st_size > 1000
    with pytest.raises(ValueError, match="noise levels"):
        feratt_figures.noise_robustness_curves([0.1], {"m": [1.0, 2.0]})


def test_tsne_keeps_separated_classes_apart(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 15)
    z = np.eye(3)[labels] * 20 + rng.normal(0, 0.5, (45, 3))
    _, coords = feratt_figures.tsne_embedding(z, labels, ["n", "h", "s"],
                                              path=str(tmp_path / "tsne.png"))
    assert coords.shape == (45, 2)
    centres = np.stack([coords[labels == k].mean(0) for k in range(3)])
    spread = max(np.linalg.norm(coords[labels == k] - centres[k], axis=1).mean() for k in range(3))
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 2 * spread


def test_noise_is_zero_mean_with_the_given_sigma_and_clipped():
    rng = np.random.default_rng(0)
    flat = np.full((64, 64, 64, 1), 0.5, np.float32)
    noisy = robustness.add_gaussian_noise(flat, 0.05, rng)
    assert abs(noisy.mean() - 0.5) < 1e-3 and abs(noisy.std() - 0.05) < 1e-3
    assert robustness.add_gaussian_noise(flat, 0.3, rng).max() <= 1.0
    with pytest.raises(ValueError, match="sigma"):
        robustness.add_gaussian_noise(flat, -1.0, rng)


def test_attention_mask_iou_and_au_shares_by_hand():
    mask = np.zeros((1, 8, 8, 1))
    mask[0, :4, :4] = 1  # 16 face pixels
    att = np.zeros((1, 8, 8, 3))
    att[0, :4, :2] = 0.8  # 8 pixels, all inside
    att[0, 6:, 6:] = 0.8  # 4 outside
    assert robustness.attention_mask_iou(att, mask)[0] == pytest.approx(8 / 20)
    regions = np.zeros((1, 2, 2), np.uint16)
    regions[0, 0, 0] = 0b01   # AU 0 changed the top-left 4×4 cell
    regions[0, 1, 1] = 0b11   # AUs 0 and 1 changed the bottom-right cell
    shares = robustness.au_attention_share(att.mean(-1), regions, num_aus=3)
    np.testing.assert_allclose(shares, [[1.0, 4 / 12, 0.0]])
