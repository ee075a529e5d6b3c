"""AU region maps: which 4x4-pixel cells each active AU changed, as a uint16 bitmask.

A cell gets bit k when it lies within the area swept by the landmarks AU k moved (the convex
hull, per facial feature, of their positions with and without AU k, widened by a margin that
covers the drawn thickness of lids, brows and lips) or under one of AU k's appearance cues
(wrinkles, furrows, bulges). This is a conservative cover of the pixels the AU changes, not a
pixel-exact difference image, which would need one extra render per AU.
"""

from __future__ import annotations

import numpy as np

from ferjax.synth import draw
from ferjax.synth.cues import MIN_INTENSITY, Stroke
from ferjax.synth.expression import Expression
from ferjax.synth.face_model import Projection, lift
from ferjax.synth.identity import Identity

CELL = 4  # pixels per region cell side
MIN_MOTION_PX = 0.35  # landmark motion below this changes no 8-bit pixel noticeably
_MARGIN = 0.06  # face units added around moved features


def au_region_map(region_shape: tuple[int, int], proj: Projection, shape: np.ndarray,
                  motion: np.ndarray, expression: Expression,
                  strokes: list[tuple[Stroke, float]], idn: Identity,
                  groups: dict[str, np.ndarray]) -> np.ndarray:
    """uint16 region_shape grid, bit k set where active AU k changed the image.

    shape: deformed (68, 3) landmarks; motion: (NUM_AUS, 68, 3) per-AU displacement.
    """
    grid = np.zeros(region_shape, np.uint16)
    scratch = np.zeros(region_shape, np.uint8)
    after = proj(shape) / CELL
    margin = max(1.0, 2 * _MARGIN * proj.scale / CELL)
    for k in np.nonzero(expression.au >= MIN_INTENSITY)[0]:
        scratch[:] = 0
        before = proj(shape - motion[k]) / CELL
        moved = np.linalg.norm(after - before, axis=1) * CELL > MIN_MOTION_PX
        for members in groups.values():
            chosen = members[moved[members]]
            if chosen.size:
                outline = draw.hull(np.concatenate([before[chosen], after[chosen]]))
                draw.fill(scratch, outline, 255)
                draw.stroke(scratch, outline, 255, margin, closed=True)
        for stroke, _ in strokes:
            if stroke.au != k:
                continue
            pts = proj(lift(idn, stroke.points, 0.02 + stroke.dz)) / CELL
            if stroke.filled:
                draw.fill(scratch, pts, 255)
            else:
                draw.stroke(scratch, pts, 255, stroke.width * proj.scale / CELL + margin)
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
