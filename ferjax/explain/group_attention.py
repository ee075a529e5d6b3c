"""Sun et al. 2018 §4.6 / Fig. 7: the attention map of a whole group photo, suppressed by faces.

The attention network is fully convolutional up to its weight map B, so it runs on a whole
image of any size; trained on single faces, it also fires on the background ("many false
positives in background areas"), which the paper suppresses with "soft facial bounding boxes
detected by an existing face detector". Neither the softness nor the combination of several
boxes is specified; here (docs/decisions.md, Sun):

- one box's weight is a "feathered" box, separably in x and y: 1 deeper inside than a, 0
  farther outside than a, and a raised-cosine ramp between, 0.5 on the box edge, where a =
  feather × the box side on that axis (default 0.1). Far from the edge the map is left exactly
  as the network made it, so the within-face pattern the paper compares with Figs. 5-6 is not
  reshaped; the ramp has no hard edge for a detector box that is a pixel off to cut along, and
  beyond a the background is suppressed completely (a Gaussian tail would keep letting
  background through: on the default synthetic group, a randomly initialised network and a
  Gaussian tail of σ = 0.15 side outside the box, only 0.60 of the suppressed mass lay inside
  the boxes). `form="gaussian"` (a Gaussian at the box centre, σ = feather × side) is the other
  reading of "soft box", for comparison; it also reweights the inside of the face;
- several faces combine by the maximum (their union), so a pixel covered by two overlapping
  boxes is not weighted twice;
- suppressed = raw × weights, renormalised to sum to 1 like B itself.

Every map here is at image resolution, (H, W), a distribution over pixels (sums to 1).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from ferjax.data.pipeline import Normalisation, to_channels
from ferjax.explain.attention import upsample_map

STRIDE = 16  # four 2×2 poolings: one cell of B per 16×16 pixels
FORMS = ("feathered", "gaussian")


def prepare_image(image: np.ndarray, channels: int, norm: Normalisation) -> np.ndarray:
    """A whole photo as the run's inputs are made: uint8 (H, W, 1|3) -> float32 (H, W, channels).

    Grey or colour as the run (ITU-R 601 for grey), [0, 1], then the training set's z-score. A
    per-pixel normalisation (mean and std images of the crop size) has no meaning on a photo of
    another size, so its spatial mean per channel stands in for it.
    """
    x = to_channels(image, channels)
    mean, std = norm.mean_array, norm.std_array
    if mean.ndim > 1:
        mean = mean.reshape(-1, mean.shape[-1]).mean(axis=0)
        std = std.reshape(-1, std.shape[-1]).mean(axis=0)
    return ((x - mean) / std).astype(np.float32)


def raw_attention(apply_fn: Callable, variables: Any, image: np.ndarray) -> np.ndarray:
    """The network's weight map B of one whole image, at image resolution.

    Args:
      apply_fn: model.apply of a network whose outputs hold "attention" (1, h, w).
      image: float32 (H, W, C), already prepared (prepare_image); any H, W.
    Returns:
      float32 (H, W), sums to 1. The image is padded at the bottom and right to a multiple of
      16 with zeros (the training mean after normalisation, i.e. featureless), B is upsampled
      bilinearly to the padded size and the padding cut off again, so every map lines up with
      the image pixel for pixel.
    """
    h, w = image.shape[:2]
    ph, pw = -h % STRIDE, -w % STRIDE
    padded = np.pad(image, ((0, ph), (0, pw), (0, 0)))
    outputs = apply_fn(variables, padded[None], train=False)
    if "attention" not in outputs:
        raise ValueError(f"the model has no 'attention' output (it has {sorted(outputs)}): "
                         "group attention needs a spatial weight map (Sun's sun_attention)")
    weights = np.asarray(outputs["attention"])
    up = upsample_map(weights, padded.shape[:2])[0, :h, :w]
    return up / max(float(up.sum()), 1e-12)


def _axis_window(coords: np.ndarray, lo: float, hi: float, form: str, feather: float) -> np.ndarray:
    """One box's weight along one axis at pixel centres coords (N,): values in [0, 1]."""
    width = max(feather * (hi - lo), 1e-6)
    if form == "feathered":
        # Signed distance outward from the nearer edge (negative inside), clipped to the ramp.
        outward = np.clip(np.maximum(lo - coords, coords - hi), -width, width)
        return 0.5 * (1.0 - np.sin(0.5 * np.pi * outward / width))
    return np.exp(-0.5 * ((coords - 0.5 * (lo + hi)) / width) ** 2)


def soft_box_weights(boxes: np.ndarray, shape: tuple[int, int], form: str = "feathered",
                     feather: float = 0.1) -> np.ndarray:
    """Soft face-box weights: float32 (H, W) in [0, 1], the maximum over boxes.

    Args:
      boxes: (N, 4) x1, y1, x2, y2 in pixels (a pixel (r, c) has its centre at (c + 0.5,
        r + 0.5)); N = 0 gives all zeros.
      shape: (H, W) of the image.
      form: "feathered" (a raised-cosine ramp from 1 at feather × side inside the edge to 0 at
        feather × side outside it, 0.5 on the edge) or "gaussian" (centred, σ = feather ×
        side; e.g. feather 0.25 gives exp(-2) ≈ 0.14 per axis on the edge).
      feather: the ramp's half-width (or σ) as a fraction of the box's side, per axis.
    """
    if form not in FORMS:
        raise ValueError(f"soft box form {form!r}; expected one of {FORMS}")
    if not feather > 0:
        raise ValueError(f"soft box feather must be > 0, got {feather}")
    h, w = shape
    ys, xs = np.arange(h) + 0.5, np.arange(w) + 0.5
    out = np.zeros((h, w), np.float32)
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
        box = np.outer(_axis_window(ys, y1, y2, form, feather),
                       _axis_window(xs, x1, x2, form, feather))
        out = np.maximum(out, box.astype(np.float32))
    return out


def box_mask(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """bool (H, W): pixels whose centre lies inside any box (x1, y1, x2, y2 in pixels)."""
    h, w = shape
    ys, xs = np.arange(h)[:, None] + 0.5, np.arange(w)[None, :] + 0.5
    inside = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
        inside |= (xs >= x1) & (xs < x2) & (ys >= y1) & (ys < y2)
    return inside


def suppress(raw: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """raw (H, W) × weights (H, W), renormalised to sum to 1 (all zeros if nothing survives)."""
    product = np.asarray(raw, np.float64) * weights
    total = product.sum()
    return (product / total if total > 0 else product).astype(np.float32)


def mass_fraction(attention_map: np.ndarray, region: np.ndarray) -> float:
    """Share of a map's (H, W) mass inside a boolean (H, W) region, in [0, 1]."""
    m = np.asarray(attention_map, np.float64)
    return float((m * region).sum() / max(m.sum(), 1e-12))


def group_attention(apply_fn: Callable, variables: Any, image: np.ndarray, boxes: np.ndarray,
                    channels: int, norm: Normalisation, form: str = "feathered",
                    feather: float = 0.1) -> dict:
    """Fig. 7's three rows for one photo and the attention share inside the face boxes.

    Args:
      image: uint8 (H, W, 1|3), the whole photo; boxes: (N, 4) face boxes in its pixels.
      channels, norm: the run's input channels and training-set normalisation.
    Returns:
      {"raw", "weights", "suppressed"}: float32 (H, W) maps (raw and suppressed sum to 1,
      weights in [0, 1]); "inside": bool (H, W) union of the hard boxes; "mass_raw",
      "mass_suppressed": the share of each map's mass inside the boxes; "box_area": the share
      of the image the boxes cover (what a uniform map would score).
    """
    raw = raw_attention(apply_fn, variables, prepare_image(image, channels, norm))
    weights = soft_box_weights(boxes, raw.shape, form, feather)
    suppressed = suppress(raw, weights)
    inside = box_mask(boxes, raw.shape)
    return {"raw": raw, "weights": weights, "suppressed": suppressed, "inside": inside,
            "mass_raw": mass_fraction(raw, inside),
            "mass_suppressed": mass_fraction(suppressed, inside),
            "box_area": float(inside.mean())}


def jitted_apply(apply_fn: Callable) -> Callable:
    """apply_fn under jax.jit with `train` static (one compilation per image size)."""
    return jax.jit(apply_fn, static_argnames="train")
