"""Occluders drawn over a rendered face: glasses (clear or sun) and a hair fringe."""

from __future__ import annotations

import numpy as np

from ferjax import ibug68
from ferjax.synth import draw
from ferjax.synth.face_model import Projection, surface_z
from ferjax.synth.identity import Identity
from ferjax.synth.scene import GLASSES_SUN


def _lens(centre, half_width, up, across):
    """A rounded-rectangle lens outline (16, 2) around an eye, pixel coordinates."""
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    # superellipse (exponent 0.6) reads as a spectacle lens rather than a monocle
    x = np.sign(c) * np.abs(c) ** 0.6 * half_width * 1.45
    y = np.sign(s) * np.abs(s) ** 0.7 * half_width * 1.05
    return centre + x[:, None] * across + y[:, None] * (-up) + 0.15 * half_width * (-up)


def draw_glasses(person, alpha, landmarks, projection: Projection, kind: int, rng_colour,
                 channels: int) -> list[np.ndarray]:
    """Draws glasses on the person layer and its coverage; returns the lens outlines (pixels)."""
    up = projection.direction((0.0, -1.0, 0.0))
    across = projection.direction((1.0, 0.0, 0.0))
    frame = draw.colour(rng_colour, channels)
    width = max(1.0, 0.035 * projection.scale)
    lenses = []
    for eye in (landmarks[ibug68.RIGHT_EYE], landmarks[ibug68.LEFT_EYE]):
        half = 0.5 * np.linalg.norm(eye[3] - eye[0])
        lenses.append(_lens(eye.mean(0), max(half, 0.5), up, across))
    for lens in lenses:
        if kind == GLASSES_SUN:
            draw.fill(person, lens, draw.colour((25, 25, 30), channels))
            draw.fill(alpha, lens, 255)
        draw.stroke(person, lens, frame, width, closed=True)
        draw.stroke(alpha, lens, 255, width, closed=True)
    bridge = np.array([lenses[0][np.argmax(lenses[0] @ across)],
                       landmarks[27] - 0.02 * projection.scale * up,
                       lenses[1][np.argmin(lenses[1] @ across)]])
    for arm in (np.array([lenses[0][np.argmin(lenses[0] @ across)], landmarks[0]]),
                np.array([lenses[1][np.argmax(lenses[1] @ across)], landmarks[16]]), bridge):
        draw.stroke(person, arm, frame, width)
        draw.stroke(alpha, arm, 255, width)
    return lenses


def fringe_outline(identity: Identity, shape: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Face-frame 3-D outline (N, 3) of a fringe hanging from the hairline to about the brows,
    with a ragged lower edge; it covers part of the forehead and often of the brows."""
    w = identity.face_width
    xs = np.linspace(-0.95 * w, 0.95 * w, 13)
    brow = min(shape[19, 1], shape[24, 1])
    depth = rng.uniform(-0.08, 0.1)  # how far below the brow tops the fringe reaches
    lower = brow + depth + rng.uniform(-0.06, 0.06, xs.size) - 0.12 * (np.abs(xs) / w) ** 2
    lower[[0, -1]] = identity.hairline_y + 0.35
    top = np.full_like(xs, identity.hairline_y - 0.25)
    xy = np.concatenate([np.column_stack([xs, lower]), np.column_stack([xs, top])[::-1]])
    return np.column_stack([xy, surface_z(xy[:, 0], xy[:, 1], w) + 0.04])
