"""Self-attention maps at query positions, and their figure."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.explain.self_attention_maps import points_to_cells, query_maps, self_attention_maps, upsample_maps
from ferjax.models.jalal import JalalSelfAttentionNet
from ferjax.viz.self_attention import self_attention_figure


def test_points_to_cells():
    cells = points_to_cells(np.array([[0.0, 0.0], [31.9, 8.0], [16.0, 40.0], [-3.0, 5.0]]),
                            (32, 32), (4, 8))
    np.testing.assert_array_equal(cells, [[0, 0], [1, 7], [3, 4], [0, 0]])


def test_query_maps_pick_the_query_rows():
    grid = (2, 3)
    attention = np.arange(2 * 6 * 6, dtype=np.float64).reshape(2, 6, 6)
    maps = query_maps(attention, grid, np.array([[1, 2], [0, 1]]))
    assert maps.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(maps[1, 0].ravel(), attention[1, 5])
    np.testing.assert_array_equal(maps[0, 1].ravel(), attention[0, 1])
    per_image = query_maps(attention, grid, np.array([[[0, 0]], [[1, 1]]]))
    np.testing.assert_array_equal(per_image[1, 0].ravel(), attention[1, 4])
    with pytest.raises(ValueError, match="6 positions, grid"):
        query_maps(attention, (2, 2), np.array([[0, 0]]))


def test_upsampled_uniform_map_stays_uniform():
    maps = np.full((1, 2, 4, 4), 1 / 16)
    up = upsample_maps(maps, (16, 16))
    assert up.shape == (1, 2, 16, 16)
    np.testing.assert_allclose(up, 1 / 16, rtol=1e-6)


def test_maps_from_model_and_figure(tmp_path):
    model = JalalSelfAttentionNet(num_classes=8)
    images = np.asarray(jax.random.normal(jax.random.key(0), (2, 32, 32, 1)))
    variables = model.init(jax.random.key(1), jnp.asarray(images))
    result = self_attention_maps(model, variables, images)
    assert result["maps"].shape == (2, 4, 32, 32) and result["grid_maps"].shape == (2, 4, 4, 4)
    np.testing.assert_allclose(result["grid_maps"].sum(axis=(2, 3)), 1.0, rtol=1e-5)
    # Default queries: eyes at (0.35, 0.40) and (0.65, 0.40) of 32 px -> cells (1, 1), (1, 2).
    np.testing.assert_array_equal(result["cells"][0, :2], [[1, 1], [1, 2]])
    fig = self_attention_figure(images, result["maps"], result["query_points"],
                                titles=["a", "b"], query_names=["r eye", "l eye", "nose", "mouth"])
    assert len(fig.axes) == 2 * 5
    path = tmp_path / "attention.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000
    ablation = JalalSelfAttentionNet(num_classes=8, use_attention=False)
    with pytest.raises(ValueError, match="no 'self_attention'"):
        self_attention_maps(ablation, ablation.init(jax.random.key(1), jnp.asarray(images)), images)


def test_figure_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="disagree"):
        self_attention_figure(np.zeros((2, 8, 8, 1)), np.zeros((3, 1, 8, 8)), np.zeros((3, 1, 2)))
