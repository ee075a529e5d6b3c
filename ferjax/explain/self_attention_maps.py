"""Where a self-attention block looks from chosen query positions.

A SAGAN-style block (ferjax.models.layers.SelfAttention2D) returns weights (B, N, N) over the
N = h·w positions of its feature grid: row q is the distribution over key positions that the
feature at query q gathers from. Picking the rows of a few query positions (an eye, the mouth)
and reshaping them to (h, w) gives a map per query that can be laid over the face.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

# Query points as (x, y) fractions of the image width and height on an aligned face: the two
# eyes, the nose tip and the mouth centre (roughly where FERSynth and aligned crops put them).
DEFAULT_QUERY_FRACTIONS = ((0.35, 0.40), (0.65, 0.40), (0.50, 0.58), (0.50, 0.75))


def points_to_cells(points_xy: np.ndarray, image_hw: tuple[int, int],
                    grid: tuple[int, int]) -> np.ndarray:
    """Image pixel coordinates → the attention grid cells that contain them.

    Args:
      points_xy: (..., 2) x, y in pixels of an image of size image_hw = (H, W).
      grid: (h, w) attention grid.
    Returns:
      (..., 2) int64 (row, col) cells, clipped into the grid.
    """
    points_xy = np.asarray(points_xy, np.float64)
    rows = np.floor(points_xy[..., 1] * grid[0] / image_hw[0])
    cols = np.floor(points_xy[..., 0] * grid[1] / image_hw[1])
    return np.stack([np.clip(rows, 0, grid[0] - 1), np.clip(cols, 0, grid[1] - 1)],
                    axis=-1).astype(np.int64)


def query_maps(attention: np.ndarray, grid: tuple[int, int], cells: np.ndarray) -> np.ndarray:
    """Attention rows of the query cells, as maps over the grid.

    Args:
      attention: (B, N, N) weights, row = query, N = h·w in row-major order.
      grid: (h, w).
      cells: (Q, 2) (row, col) queries shared by the batch, or (B, Q, 2) per image.
    Returns:
      (B, Q, h, w); each map sums to 1.
    """
    attention = np.asarray(attention)
    b, n, _ = attention.shape
    if n != grid[0] * grid[1]:
        raise ValueError(f"attention has {n} positions, grid {grid} has {grid[0] * grid[1]}")
    cells = np.broadcast_to(np.asarray(cells), (b,) + np.asarray(cells).shape[-2:])
    flat = cells[..., 0] * grid[1] + cells[..., 1]  # (B, Q)
    rows = np.take_along_axis(attention, flat[:, :, None], axis=1)  # (B, Q, N)
    return rows.reshape(b, flat.shape[1], grid[0], grid[1])


def upsample_maps(maps: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """(B, Q, h, w) → (B, Q, H, W) bilinear, for overlaying on the input images."""
    b, q = maps.shape[:2]
    return np.asarray(jax.image.resize(jnp.asarray(maps), (b, q) + tuple(image_hw), "bilinear"))


def self_attention_maps(model: Any, variables: Mapping[str, Any], images: np.ndarray,
                        query_points: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Runs a model whose outputs carry "self_attention" and "attention_grid" (inference mode).

    Args:
      model: Linen module, e.g. ferjax.models.jalal.JalalSelfAttentionNet.
      variables: its variables.
      images: (B, H, W, C) float32 model inputs.
      query_points: (Q, 2) or (B, Q, 2) x, y pixels; default DEFAULT_QUERY_FRACTIONS.
    Returns:
      {"maps": (B, Q, H, W) upsampled maps, "grid_maps": (B, Q, h, w),
       "query_points": (B, Q, 2) x, y pixels, "cells": (B, Q, 2), "logits": (B, K)}.
    """
    images = np.asarray(images, np.float32)
    outputs = model.apply(variables, images, train=False)
    if "self_attention" not in outputs:
        raise ValueError("the model returned no 'self_attention': is its attention block off?")
    grid = tuple(int(g) for g in outputs["attention_grid"])
    height, width = images.shape[1:3]
    if query_points is None:
        query_points = np.asarray(DEFAULT_QUERY_FRACTIONS) * np.array([width, height])
    points = np.broadcast_to(np.asarray(query_points, np.float64),
                             (images.shape[0],) + np.asarray(query_points).shape[-2:])
    cells = points_to_cells(points, (height, width), grid)
    grid_maps = query_maps(np.asarray(outputs["self_attention"]), grid, cells)
    return {"maps": upsample_maps(grid_maps, (height, width)), "grid_maps": grid_maps,
            "query_points": np.array(points), "cells": cells,
            "logits": np.asarray(outputs["logits"])}
