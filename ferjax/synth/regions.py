"""AU region maps: which 4x4-pixel cells each active AU changed, as a uint16 bitmask.

A cell gets bit k when it lies within the area swept by the landmarks AU k moved (the convex
hull, per facial feature, of their positions with and without AU k, widened by a margin that
covers the drawn thickness of lids, brows and lips) or under one of AU k's appearance cues
(wrinkles, furrows, bulges). This is a conservative cover of the pixels the AU changes, not a
pixel-exact difference image, which would need one extra render per AU.
"""

from __future__ import annotations

import functools

import numpy as np

from ferjax.synth import draw
from ferjax.synth.cues import MIN_INTENSITY, Stroke
from ferjax.synth.expression import Expression
from ferjax.synth.face_model import Projection

CELL = 4  # pixels per region cell side
MIN_MOTION_PX = 0.35  # landmark motion below this changes no 8-bit pixel noticeably
_MARGIN = 0.06  # face units added around moved features


@functools.lru_cache(maxsize=4)
def _membership(groups: tuple[tuple[int, ...], ...]) -> np.ndarray:
    member = np.zeros((len(groups), 68), bool)
    for g, members in enumerate(groups):
        member[g, list(members)] = True
    member.setflags(write=False)
    return member


def au_region_map(region_shape: tuple[int, int], proj: Projection, shape: np.ndarray,
                  motion: np.ndarray, expression: Expression,
                  strokes: list[tuple[Stroke, float]], stroke_pixels: list[np.ndarray],
                  groups: dict[str, np.ndarray]) -> np.ndarray:
    """uint16 region_shape grid, bit k set where active AU k changed the image.

    shape: deformed (68, 3) landmarks; motion: (NUM_AUS, 68, 3) per-AU displacement;
    stroke_pixels: the image points of each cue stroke.
    """
    grid = np.zeros(region_shape, np.uint16)
    active = np.nonzero(expression.au >= MIN_INTENSITY)[0]
    if active.size == 0:
        return grid
    scratch = np.zeros(region_shape, np.uint8)
    after = proj(shape) / CELL
    shift = motion[active] @ proj.matrix / CELL  # (A, 68, 2) pixel motion of each AU, cells
    moved_all = np.hypot(shift[..., 0], shift[..., 1]) * CELL > MIN_MOTION_PX
    margin = max(1.0, 2 * _MARGIN * proj.scale / CELL)
    member = _membership(tuple(tuple(m.tolist()) for m in groups.values()))  # (G, 68)
    moved_groups = moved_all[:, None, :] & member[None]  # (A, G, 68)
    for a, k in enumerate(active):
        scratch[:] = 0
        for g in np.flatnonzero(moved_groups[a].any(1)):
            chosen = moved_groups[a, g]
            outline = draw.hull(np.concatenate([after[chosen] - shift[a, chosen],
                                                after[chosen]]))
            draw.fill(scratch, outline, 255)
            draw.stroke(scratch, outline, 255, margin, closed=True)
        for (stroke, _), pts in zip(strokes, stroke_pixels):
            if stroke.au != k:
                continue
            if stroke.filled:
                draw.fill(scratch, pts / CELL, 255)
            else:
                draw.stroke(scratch, pts / CELL, 255, stroke.width * proj.scale / CELL + margin)
        grid |= (scratch > 0).astype(np.uint16) << np.uint16(k)
    return grid


def au_region_mask(au_regions: np.ndarray, au_indices, image_shape) -> np.ndarray:
    """Pixels changed by any of `au_indices`, bool (H, W).

    au_regions: uint16 (ceil(H/4), ceil(W/4)) as stored in records; au_indices: iterable of
    AU indices (positions in AU_NAMES); image_shape: (H, W[, C]) of the image it belongs to.
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    grid = np.asarray(au_regions)
    expected = (-(-h // CELL), -(-w // CELL))
    if grid.shape != expected:
        raise ValueError(f"au_regions has shape {grid.shape}; an image of {h}x{w} needs "
                         f"{expected}")
    bits = np.uint16(0)
    for k in au_indices:
        if not 0 <= int(k) < 16:
            raise ValueError(f"AU index {k} out of range [0, 16)")
        bits |= np.uint16(1 << int(k))
    hit = (grid & bits) != 0
    return np.repeat(np.repeat(hit, CELL, axis=0), CELL, axis=1)[:h, :w]
