"""Figure: self-attention maps at a few query positions on sample faces."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure  # a Figure without pyplot: Agg, no global state

_QUERY_COLOURS = ("tab:red", "tab:cyan", "tab:orange", "tab:green", "tab:purple", "tab:pink")


def _display(image: np.ndarray) -> np.ndarray:
    """Any (H, W, C) float or uint8 image → [0, 1] for imshow (per-image min-max)."""
    image = np.asarray(image, np.float64)
    image = (image - image.min()) / max(image.max() - image.min(), 1e-12)
    return image[..., 0] if image.shape[-1] == 1 else image


def self_attention_figure(images: np.ndarray, maps: np.ndarray, query_points: np.ndarray,
                          titles: Sequence[str] | None = None,
                          query_names: Sequence[str] | None = None) -> Figure:
    """One row per face: the face with its query points, then one overlay per query.

    Args:
      images: (B, H, W, C) faces (any range; shown min-max scaled).
      maps: (B, Q, H, W) attention maps at image resolution.
      query_points: (B, Q, 2) x, y pixels of the queries.
      titles: B row titles (e.g. "true happy / predicted sad").
      query_names: Q column names.
    Returns:
      a matplotlib Figure (save with fig.savefig(path)).
    """
    b, q = maps.shape[:2]
    if images.shape[0] != b or query_points.shape[:2] != (b, q):
        raise ValueError(f"images {images.shape}, maps {maps.shape} and query_points "
                         f"{query_points.shape} disagree on the batch or query count")
    fig = Figure(figsize=(2.0 * (q + 1), 2.1 * b), layout="constrained")
    axes = fig.subplots(b, q + 1, squeeze=False)
    for i in range(b):
        face = _display(images[i])
        cmap = "gray" if face.ndim == 2 else None
        axes[i, 0].imshow(face, cmap=cmap)
        for k in range(q):
            colour = _QUERY_COLOURS[k % len(_QUERY_COLOURS)]
            axes[i, 0].plot(*query_points[i, k], "o", color=colour, markersize=5)
            axes[i, k + 1].imshow(face, cmap=cmap)
            axes[i, k + 1].imshow(maps[i, k], cmap="jet", alpha=0.5)
            axes[i, k + 1].plot(*query_points[i, k], "o", color="white", markersize=5,
                                markeredgecolor=colour)
        if titles is not None:
            axes[i, 0].set_title(titles[i], fontsize=8)
    if query_names is not None:
        for k, name in enumerate(query_names):
            axes[0, k + 1].set_title(name, fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
