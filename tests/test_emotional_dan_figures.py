"""CED and Grad-CAM figures write readable images of the expected layout."""

import numpy as np
import pytest
from PIL import Image

from ferjax.viz import landmark_figures


def _size(path):
    with Image.open(path) as image:
        return image.size


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    ced = landmark_figures.plot_ced({"1 stage": rng.uniform(0, 0.1, 50),
                                     "2 stages": rng.uniform(0, 0.06, 50)},
                                    str(tmp_path / "ced.png"))
    grid = landmark_figures.plot_gradcam_grid(rng.normal(size=(4, 16, 16, 1)),
                                              rng.uniform(size=(4, 16, 16)),
                                              ["happy", "sad", "fear", "anger"],
                                              str(tmp_path / "sub" / "grid.png"), columns=2)
    means = landmark_figures.plot_mean_cams(
        {"happy": rng.uniform(size=(16, 16)), "sad": rng.uniform(size=(16, 16))},
        rng.normal(size=(16, 16)), rng.uniform(0, 16, size=(68, 2)),
        {"happy": [48, 54], "sad": [17]}, str(tmp_path / "mean.png"))
    for path in (ced, grid, means):
        width, height = _size(path)
        assert width > 100 and height > 100


def test_figure_inputs_are_checked(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        landmark_figures.plot_ced({}, str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="as many images"):
        landmark_figures.plot_gradcam_grid(np.zeros((2, 4, 4)), np.zeros((1, 4, 4)), ["a"],
                                           str(tmp_path / "y.png"))
