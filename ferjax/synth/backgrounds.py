"""Procedural backgrounds, the one home of every generated background: plain, linear gradient
and clutter (shapes over smooth noise) for FERSynth scenes (`render_background` by kind), and
colour_blobs, the compositing renderer's default (ferjax.data.composite).

Each function returns uint8 images from its own Generator, so FERSynth's `composite` preset and
FERAtt-style pasting of real faces reuse them directly.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ferjax.synth.draw import LINE, fixed, to_channels

_COARSE = 8


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
    # evaluated on a grid 8x coarser and upsampled bilinearly, which reproduces a linear ramp
    gh, gw = -(-h // _COARSE) + 1, -(-w // _COARSE) + 1
    ys = (np.arange(gh, dtype=np.float32) * _COARSE / max(h - 1, 1) - 0.5)[:, None]
    xs = (np.arange(gw, dtype=np.float32) * _COARSE / max(w - 1, 1) - 0.5)[None, :]
    t = np.clip(np.cos(theta) * xs + np.sin(theta) * ys + 0.5, 0.0, 1.0)[..., None]
    coarse = (a + (b - a) * t).astype(np.float32)
    full = cv2.resize(coarse, ((gw - 1) * _COARSE + 1, (gh - 1) * _COARSE + 1),
                      interpolation=cv2.INTER_LINEAR)
    return full[:h, :w].reshape(h, w, c).astype(np.uint8)


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
    # smooth low-frequency noise (bilinear upsampling of a 6x6 grid) and a light box blur,
    # so shape edges are not all razor sharp
    noise = rng.normal(0, rng.uniform(5, 25), (6, 6, c)).astype(np.float32)
    smooth = cv2.resize(noise, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, c)
    k = int(rng.integers(1, 4))
    blurred = cv2.blur(image, (k, k)).reshape(h, w, c)
    return cv2.add(blurred, smooth, dtype=cv2.CV_8U).reshape(h, w, c)


def colour_blobs(rng: np.random.Generator, size: int) -> np.ndarray:
    """The compositing renderer's default background (ferjax.data.composite): a two-colour
    gradient, low-frequency colour noise and a few random filled shapes. Returns uint8
    (size, size, 3)."""
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    t = (np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None])
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    c0, c1 = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    image = c0 + t[..., None] * (c1 - c0)
    cells = int(rng.integers(2, 8))
    blobs = rng.normal(0, 40, (cells, cells, 3)).astype(np.float32)
    image += cv2.resize(blobs, (size, size), interpolation=cv2.INTER_CUBIC)
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 6))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = (int(v) for v in rng.integers(0, size, 2))
        extent = int(rng.integers(size // 16 + 1, size // 3 + 2))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), extent, colour, thickness=-1)
        else:
            cv2.rectangle(image, (x, y), (x + extent, y + extent // 2 + 1), colour, thickness=-1)
    return image


BACKGROUNDS = {"plain": plain, "gradient": gradient, "clutter": clutter}


def render_background(rng: np.random.Generator, kind: str,
                      shape: tuple[int, int, int]) -> np.ndarray:
    """uint8 (H, W, C) background of `kind` ('plain', 'gradient' or 'clutter')."""
    try:
        return BACKGROUNDS[kind](rng, shape)
    except KeyError:
        raise ValueError(
            f"unknown background kind {kind!r}; expected {list(BACKGROUNDS)}") from None
