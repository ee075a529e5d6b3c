"""Test-time augmentation (config.eval.tta): several views of each test image, one prediction.

"none": the centre crop. "flip": the centre crop and its mirror image. "ten_crop"
(Pramerdorfer & Kampel 2016): the four corner crops and the centre crop of the stored image,
each with its mirror image. The class prediction is the argmax of the softmax probabilities
averaged over the views (probabilities, not logits, are averaged). Loss terms are still
computed on the centre crop alone, so "loss" and "loss/<term>" do not change with the mode and
landmark targets never need mirroring.
"""

from __future__ import annotations

from typing import Sequence

import grain
import jax
import jax.numpy as jnp
import numpy as np

from ferjax.data import pipeline

MODES = ("none", "flip", "ten_crop")


def check(mode: str, image_hw: Sequence[int], crop_hw: Sequence[int]) -> None:
    """ValueError naming config.eval.tta when `mode` is unknown or the stored image size
    (image_hw, (H, W)) cannot give its views of crop_hw (config.data.crop_size)."""
    if mode not in MODES:
        raise ValueError(f"config.eval.tta={mode!r}; expected one of {MODES}")
    (h, w), (ch, cw) = tuple(image_hw)[:2], tuple(crop_hw)
    if ch > h or cw > w:
        raise ValueError(f"config.data.crop_size={ch}x{cw} is larger than the stored "
                         f"{h}x{w} images")
    if mode == "ten_crop" and not (h > ch and w > cw):
        raise ValueError(f"config.eval.tta='ten_crop' needs stored images larger than the crop "
                         f"in both sides: the images are {h}x{w} and config.data.crop_size is "
                         f"{ch}x{cw}, so all crops coincide; use a smaller crop_size (or larger "
                         "prepared images), or config.eval.tta='flip'")


def crop_offsets(mode: str, image_hw: Sequence[int], crop_hw: Sequence[int]
                 ) -> tuple[tuple[int, int], ...]:
    """(top, left) of each crop: the centre crop first (as augment.center_crop), then for
    ten_crop the top-left, top-right, bottom-left and bottom-right corners."""
    check(mode, image_hw, crop_hw)
    (h, w), (ch, cw) = tuple(image_hw)[:2], tuple(crop_hw)
    centre = ((h - ch) // 2, (w - cw) // 2)
    if mode != "ten_crop":
        return (centre,)
    return (centre, (0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw))


def num_views(mode: str) -> int:
    return {"none": 1, "flip": 2, "ten_crop": 10}[mode]


def views(image: np.ndarray, mode: str, crop_hw: Sequence[int]) -> np.ndarray:
    """(H, W, C) image -> (V, h, w, C) views: for each crop of crop_offsets, the crop and (unless
    mode is "none") its mirror image."""
    ch, cw = crop_hw
    out = []
    for top, left in crop_offsets(mode, image.shape[:2], crop_hw):
        patch = image[top:top + ch, left:left + cw]
        out.append(patch)
        if mode != "none":
            out.append(patch[:, ::-1])
    return np.stack(out)


def average_probabilities(logits: jnp.ndarray) -> jnp.ndarray:
    """(B, V, K) logits of V views -> (B, K) mean over views of the softmax probabilities."""
    return jnp.mean(jax.nn.softmax(logits, axis=-1), axis=1)


def view_probabilities(apply_fn, view_images: jnp.ndarray) -> jnp.ndarray:
    """(B, V, h, w, C) normalised views -> (B, K) averaged probabilities of
    apply_fn(images (N, h, w, C)) -> {"logits": (N, K)}."""
    b, v = view_images.shape[:2]
    logits = apply_fn(view_images.reshape((b * v, *view_images.shape[2:])))["logits"]
    return average_probabilities(logits.reshape((b, v, logits.shape[-1])))


class TTATransform(grain.transforms.Map):
    """The evaluation transform plus "views" (V, h, w, C): every view, normalised."""

    def __init__(self, spec: pipeline.ExampleSpec, norm: pipeline.Normalisation, mode: str):
        self.base = pipeline.EvalTransform(spec, norm)
        self.spec, self.norm, self.mode = spec, norm, mode

    def map(self, record):
        example = self.base.map(record)
        image = pipeline.to_channels(record["image"], self.spec.channels)
        example["views"] = np.stack([self.norm.apply(v) for v in
                                     views(image, self.mode, self.spec.crop_size)])
        return example


def eval_transform(spec: pipeline.ExampleSpec, norm: pipeline.Normalisation, mode: str):
    """pipeline.EvalTransform for mode "none", else TTATransform."""
    if mode not in MODES:
        raise ValueError(f"config.eval.tta={mode!r}; expected one of {MODES}")
    return pipeline.EvalTransform(spec, norm) if mode == "none" else TTATransform(spec, norm, mode)


def stored_size(source) -> tuple[int, int]:
    """(H, W) of the first record's stored image (the size check's input)."""
    return tuple(np.asarray(source[0]["image"]).shape[:2])
