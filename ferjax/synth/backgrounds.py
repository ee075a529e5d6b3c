"""Procedural backgrounds: plain, linear gradient and clutter (shapes over smooth noise).

Each function returns uint8 (H, W, C) from its own Generator, so compositing code (FERSynth's
`composite` preset or FERAtt-style pasting of real faces) can reuse them directly.
"""

from __future__ import annotations

import cv2
import numpy as np

from ferjax.synth.draw import LINE, fixed, to_channels


def plain(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    """A uniform colour, mostly light-to-mid greys as in studio photographs."""
    h, w, c = shape
    grey = rng.uniform(60, 240)
    rgb = np.clip(grey + rng.normal(0, 15, 3), 0, 255)
    return np.broadcast_to(to_channels(rgb, c), (h, w, c)).astype(np.uint8)


def gradient(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    """A linear ramp between two random colours along a random direction."""
    h, w, c = shape
    a, b = to_channels(rng.uniform(0, 255, 3), c), to_channels(rng.uniform(0, 255, 3), c)
    theta = rng.uniform(0, 2 * np.pi)
    ys = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    xs = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    t = np.clip(np.cos(theta) * xs + np.sin(theta) * ys + 0.5, 0.0, 1.0)[..., None]
    return (a + (b - a) * t).astype(np.uint8)


def clutter(rng: np.random.Generator, shape: tuple[int, int, int],
            num_shapes: tuple[int, int] = (8, 20)) -> np.ndarray:
    """Random rectangles, ellipses, polygons and lines over a gradient with smooth noise:
    scene-like structure at many scales, so a model cannot find the face by edges alone."""
    h, w, c = shape
    image = gradient(rng, shape).copy()
    for _ in range(int(rng.integers(*num_shapes))):
        colour = tuple(float(v) for v in to_channels(rng.uniform(0, 255, 3), c))
        kind = rng.integers(4)
        x, y = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
        size = rng.uniform(0.05, 0.5) * max(h, w)
        if kind == 0:
            corners = np.array([[x, y], [x + size * rng.uniform(0.3, 1.5), y + size]])
            cv2.rectangle(image, tuple(fixed(corners[0]).ravel()), tuple(fixed(corners[1]).ravel()),
                          colour, -1, LINE, 4)
        elif kind == 1:
            axes = (size * rng.uniform(0.2, 0.6), size * rng.uniform(0.2, 0.6))
            cv2.ellipse(image, tuple(fixed([x, y]).ravel()), tuple(fixed(axes).ravel()),
                        rng.uniform(0, 180), 0, 360, colour, -1, LINE, 4)
        elif kind == 2:
            pts = np.array([x, y]) + rng.normal(0, size / 2, (int(rng.integers(3, 7)), 2))
            cv2.fillPoly(image, [fixed(pts)], colour, LINE, 4)
        else:
            end = np.array([x, y]) + rng.normal(0, size, 2)
            cv2.line(image, tuple(fixed([x, y]).ravel()), tuple(fixed(end).ravel()), colour,
                     int(rng.integers(1, 4)), LINE, 4)
    noise = rng.normal(0, rng.uniform(5, 25), (6, 6, c)).astype(np.float32)
    smooth = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, c)
    blurred = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.5)).reshape(h, w, c)
    return np.clip(blurred + smooth, 0, 255).astype(np.uint8)


BACKGROUNDS = {"plain": plain, "gradient": gradient, "clutter": clutter}


def render_background(rng: np.random.Generator, kind: str,
                      shape: tuple[int, int, int]) -> np.ndarray:
    """uint8 (H, W, C) background of `kind` ('plain', 'gradient' or 'clutter')."""
    try:
        return BACKGROUNDS[kind](rng, shape)
    except KeyError:
        raise ValueError(f"unknown background kind {kind!r}; expected {list(BACKGROUNDS)}") from None
