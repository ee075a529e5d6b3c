"""Batch-level augmentation inside the jitted train step: pure jnp functions of (batch, key).

They run on the device on whatever the input pipeline delivered (host or device-resident), on
normalised float images (B, H, W, C), so they cost no host time and behave the same on both
paths. config.data.batch_augment = {option: value} (all off by default):
  translate: P > 0 pads each image by P pixels with reflection and crops a random H×W window
    back (the "reflect-pad-4 random crop" of CIFAR-style training, which the strong FER-2013
    networks use on 48×48 faces).
  rotation: maximum angle in degrees; each image is rotated about its centre by U(−r, r),
    bilinear, edge pixels repeated (Khaireddin & Chen 2021 rotate by up to ±10°).
  erasing: probability that one random rectangle of each image is erased to 0, the dataset
    mean after normalisation (Zhong et al. 2020, "Random Erasing Data Augmentation": area
    U(0.02, 0.33) of the image, aspect ratio log-uniform in (0.3, 3.3); torchvision's
    RandomErasing defaults).
  mixup: α > 0 mixes each image with a random other one of the batch, x = λ·x + (1 − λ)·x[π],
    one λ ~ Beta(α, α) per batch (Zhang et al. 2018); the batch gains "mix_label" (labels of
    the partners) and "mix_lambda" (λ), which the emotion cross-entropy mixes in its targets.
Applied in that order. Only "image" changes: geometric options (translate, rotation) refuse
batches that carry landmarks, masks or target faces, whose geometry they would break.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import jax
import jax.numpy as jnp

OPTIONS = ("translate", "rotation", "erasing", "mixup")
_GEOMETRY_KEYS = ("landmarks", "mask", "face")
# Random erasing's area and aspect-ratio ranges (Zhong et al. 2020, torchvision's defaults).
ERASE_AREA = (0.02, 0.33)
ERASE_RATIO = (0.3, 3.3)


def random_translate(images: jnp.ndarray, key: jax.Array, pad: int) -> jnp.ndarray:
    """Reflect-pads (B, H, W, C) images by `pad` and crops a random H×W window from each."""
    b, h, w, _ = images.shape
    padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    offsets = jax.random.randint(key, (b, 2), 0, 2 * pad + 1)

    def crop(image, offset):
        return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, image.shape[-1]))

    return jax.vmap(crop)(padded, offsets)


def rotate(images: jnp.ndarray, angles: jnp.ndarray) -> jnp.ndarray:
    """Rotates each (H, W, C) image of (B, H, W, C) about its centre by `angles` (B,) radians
    (counter-clockwise as displayed, y pointing down); bilinear, edges repeated."""
    _, h, w, c = images.shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    ys, xs = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32),
                          indexing="ij")

    def one(image, angle):
        cos, sin = jnp.cos(angle), jnp.sin(angle)
        # Inverse map: the output pixel (y, x) samples the input at R(−angle)·(y, x).
        src_x = cos * (xs - cx) - sin * (ys - cy) + cx
        src_y = sin * (xs - cx) + cos * (ys - cy) + cy
        channels = [jax.scipy.ndimage.map_coordinates(image[..., k], [src_y, src_x], order=1,
                                                      mode="nearest") for k in range(c)]
        return jnp.stack(channels, axis=-1)

    return jax.vmap(one)(images, angles)


def erase_boxes(key: jax.Array, batch: int, height: int, width: int) -> jnp.ndarray:
    """(B, 4) int boxes (top, left, box height, box width) of random erasing, inside the image."""
    area_key, ratio_key, top_key, left_key = jax.random.split(key, 4)
    area = jax.random.uniform(area_key, (batch,), minval=ERASE_AREA[0],
                              maxval=ERASE_AREA[1]) * height * width
    log_ratio = jax.random.uniform(ratio_key, (batch,), minval=math.log(ERASE_RATIO[0]),
                                   maxval=math.log(ERASE_RATIO[1]))
    ratio = jnp.exp(log_ratio)
    box_h = jnp.clip(jnp.round(jnp.sqrt(area * ratio)), 1, height).astype(jnp.int32)
    box_w = jnp.clip(jnp.round(jnp.sqrt(area / ratio)), 1, width).astype(jnp.int32)
    top = jnp.floor(jax.random.uniform(top_key, (batch,)) * (height - box_h + 1)).astype(jnp.int32)
    left = jnp.floor(jax.random.uniform(left_key, (batch,)) * (width - box_w + 1)).astype(jnp.int32)
    return jnp.stack([top, left, box_h, box_w], axis=-1)


def erase(images: jnp.ndarray, boxes: jnp.ndarray, apply: jnp.ndarray) -> jnp.ndarray:
    """Sets each image's box (top, left, height, width) to 0 where `apply` (B,) bool is True."""
    _, h, w, _ = images.shape
    rows = jnp.arange(h)[None, :, None]
    cols = jnp.arange(w)[None, None, :]
    top, left, box_h, box_w = (boxes[:, i, None, None] for i in range(4))
    inside = ((rows >= top) & (rows < top + box_h) & (cols >= left) & (cols < left + box_w)
              & apply[:, None, None])
    return jnp.where(inside[..., None], 0.0, images).astype(images.dtype)


def random_erasing(images: jnp.ndarray, key: jax.Array, probability: float) -> jnp.ndarray:
    """Random erasing of (B, H, W, C) images, each with `probability` (Zhong et al. 2020)."""
    box_key, apply_key = jax.random.split(key)
    b, h, w, _ = images.shape
    apply = jax.random.uniform(apply_key, (b,)) < probability
    return erase(images, erase_boxes(box_key, b, h, w), apply)


def mix(batch: Mapping[str, Any], permutation: jnp.ndarray, lam) -> dict:
    """Mixup of batch["image"] with its permutation by weight lam; labels recorded for the loss."""
    images = batch["image"]
    out = dict(batch)
    out["image"] = (lam * images + (1.0 - lam) * images[permutation]).astype(images.dtype)
    out["mix_label"] = batch["label"][permutation]
    out["mix_lambda"] = jnp.asarray(lam, jnp.float32)
    return out


def mixup(batch: Mapping[str, Any], key: jax.Array, alpha: float) -> dict:
    """Mixup (Zhang et al. 2018): one λ ~ Beta(α, α) per batch, partners a random permutation."""
    lam_key, perm_key = jax.random.split(key)
    lam = jax.random.beta(lam_key, alpha, alpha)
    return mix(batch, jax.random.permutation(perm_key, batch["image"].shape[0]), lam)


def validate(options: Mapping[str, Any]) -> dict:
    """The options with unknown names and out-of-range values rejected, naming the field."""
    options = dict(options)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"config.data.batch_augment: unknown options {unknown}; expected some "
                         f"of {list(OPTIONS)}")
    translate = options.get("translate", 0)
    if translate < 0 or int(translate) != translate:
        raise ValueError(f"config.data.batch_augment.translate={options['translate']}; expected "
                         "a number of pixels >= 0")
    if not 0.0 <= options.get("erasing", 0.0) <= 1.0:
        raise ValueError(f"config.data.batch_augment.erasing={options['erasing']}; expected a "
                         "probability in [0, 1]")
    for name in ("rotation", "mixup"):
        if options.get(name, 0.0) < 0:
            raise ValueError(f"config.data.batch_augment.{name}={options[name]}; expected >= 0")
    return options


def apply(batch: Mapping[str, Any], key: jax.Array, options: Mapping[str, Any]) -> dict:
    """The batch with the configured augmentations applied to "image" (see module docstring)."""
    options = validate(options)
    translate, degrees = int(options.get("translate", 0)), float(options.get("rotation", 0.0))
    erasing, alpha = float(options.get("erasing", 0.0)), float(options.get("mixup", 0.0))
    if (translate or degrees) and any(k in batch for k in _GEOMETRY_KEYS):
        present = [k for k in _GEOMETRY_KEYS if k in batch]
        raise ValueError(f"config.data.batch_augment: translate/rotation move only the image, "
                         f"but the batch also has {present}; use config.data.augment instead")
    out = dict(batch)
    keys = jax.random.split(key, len(OPTIONS))
    if translate:
        out["image"] = random_translate(out["image"], keys[0], translate)
    if degrees:
        angles = jax.random.uniform(keys[1], (out["image"].shape[0],), minval=-degrees,
                                    maxval=degrees) * (math.pi / 180.0)
        out["image"] = rotate(out["image"], angles)
    if erasing:
        out["image"] = random_erasing(out["image"], keys[2], erasing)
    if alpha:
        out = mixup(out, keys[3], alpha)
    return out
