"""Figures for landmark and Grad-CAM results: CED curves and EmotionalDAN Fig. 5/6 layouts.

Built on matplotlib.figure.Figure (no pyplot), so no global backend state is touched.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ferjax.evaluation.landmarks import DEFAULT_THRESHOLD, auc, cumulative_error_distribution
from ferjax.files import save_figure


def _save(figure: Figure, path: str) -> str:
    save_figure(figure, path, dpi=100, bbox_inches="tight")
    return path


def plot_ced(errors_by_model: Mapping[str, np.ndarray], path: str,
             threshold: float = DEFAULT_THRESHOLD, normalisation: str = "inter-pupil",
             x_max: float | None = None) -> str:
    """Cumulative error distribution of per-image NMEs, one curve per model; AUC in the legend.

    The x axis runs to `x_max` (default: the threshold, or further when more than 5 % of the
    errors exceed it, so that weak models still show a curve); a dashed line marks the
    threshold the AUC and failure rate use.
    """
    if not errors_by_model:
        raise ValueError("plot_ced needs at least one model's errors")
    if x_max is None:
        pooled = np.concatenate([np.ravel(e) for e in errors_by_model.values()])
        x_max = max(threshold, float(np.quantile(pooled, 0.95)))
    figure = Figure(figsize=(5, 4))
    axes = figure.add_subplot()
    for name, errors in errors_by_model.items():
        x, fraction = cumulative_error_distribution(errors, x_max)
        axes.plot(x, fraction, label=f"{name} (AUC@{threshold:g} = {auc(errors, threshold):.3f})")
    axes.axvline(threshold, color="grey", linestyle="--", linewidth=1)
    axes.set_xlabel(f"NME ({normalisation} normalised)")
    axes.set_ylabel("fraction of images")
    axes.set_xlim(0, x_max)
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    return _save(figure, path)


def _gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.float64)
    image = image.mean(-1) if image.ndim == 3 else image
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def plot_gradcam_grid(images: np.ndarray, cams: np.ndarray, titles: Sequence[str], path: str,
                      columns: int = 6, alpha: float = 0.5) -> str:
    """Grad-CAM maps over their images (paper Fig. 5): images (N, H, W[, C]), cams (N, H, W)."""
    if len(images) != len(cams) or len(images) != len(titles) or not len(images):
        raise ValueError(f"need as many images, cams and titles (> 0); got {len(images)}, "
                         f"{len(cams)}, {len(titles)}")
    rows = -(-len(images) // columns)
    figure = Figure(figsize=(2 * columns, 2.2 * rows))
    for index, (image, cam, title) in enumerate(zip(images, cams, titles)):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.imshow(_gray(image), cmap="gray")
        axes.imshow(cam, cmap="jet", alpha=alpha, vmin=0, vmax=1)
        axes.set_title(title, fontsize="small")
        axes.axis("off")
    return _save(figure, path)


def plot_mean_cams(mean_cams: Mapping[str, np.ndarray], mean_image: np.ndarray,
                   mean_shape: np.ndarray, top_landmarks: Mapping[str, Sequence[int]],
                   path: str) -> str:
    """Paper Fig. 6 layout: per emotion, the mean Grad-CAM over the mean face (top row) and the
    mean shape with its top-k activated landmarks in red (bottom row)."""
    if not mean_cams:
        raise ValueError("plot_mean_cams needs at least one emotion's mean map")
    names = list(mean_cams)
    figure = Figure(figsize=(2.2 * len(names), 4.6))
    shape = np.asarray(mean_shape)
    for column, name in enumerate(names):
        top = figure.add_subplot(2, len(names), column + 1)
        top.imshow(_gray(mean_image), cmap="gray")
        top.imshow(mean_cams[name], cmap="jet", alpha=0.5)
        top.set_title(name, fontsize="small")
        top.axis("off")
        bottom = figure.add_subplot(2, len(names), len(names) + column + 1)
        bottom.imshow(_gray(mean_image), cmap="gray")
        chosen = np.zeros(len(shape), bool)
        chosen[list(top_landmarks.get(name, ()))] = True
        bottom.scatter(shape[~chosen, 0], shape[~chosen, 1], s=4, c="white")
        bottom.scatter(shape[chosen, 0], shape[chosen, 1], s=8, c="red")
        bottom.axis("off")
    return _save(figure, path)
