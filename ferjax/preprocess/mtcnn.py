"""MTCNN face detector (Zhang et al. 2016, "Joint face detection and alignment using multitask
cascaded convolutional networks") in Flax Linen, running the pretrained weights shipped in the
MIT-licensed `mtcnn` wheel (version 1.0.0, Iván de Paz Centeno).

The wheel stores each network as a joblib dump (lz4) of the list of Keras `get_weights()` arrays;
we read those files by path, never importing the `mtcnn` package itself, whose `__init__`
imports TensorFlow. Conventions of that implementation that the weights depend on, all kept:
  * RGB input, normalised as (pixel - 127.5) / 128;
  * Keras layouts: conv kernels (kh, kw, in, out), dense kernels (in, out), PReLU slopes per
    channel shared over space;
  * max pooling with TensorFlow "SAME"/"VALID" padding as in each network definition;
  * R-Net and O-Net swap the two spatial axes before flattening (their dense weights come from
    the column-major Caffe original), so the flatten order is (W, H, C);
  * boxes are (x1, y1, x2, y2) with the original's "+1" width convention in the regression and
    landmark decoding;
  * 5 landmarks in the order of the wheel: image-left eye, image-right eye, nose, image-left
    mouth corner, image-right mouth corner (checked on `skimage.data.astronaut()`).

Choices where the implementations differ (docs/decisions.md, "Face preprocessing"):
  * P-Net box regression is applied before NMS (as the wheel does; the Caffe original applied it
    after the cross-scale NMS);
  * NMS is greedy (as the original), not the wheel's one-shot upper-triangular variant;
  * candidate windows are cut at integer pixels, zero-padded (in normalised units, i.e. mid grey)
    where they leave the image and resized with area interpolation, as the original; the wheel
    uses bilinear `crop_and_resize`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import pathlib
from typing import Any, Callable

import cv2
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ferjax.preprocess.nms import nms

WEIGHT_FILES = {"pnet": "pnet.lz4", "rnet": "rnet.lz4", "onet": "onet.lz4"}
# P-Net sees 12x12 windows with an output stride of 2 (one 2x2 pooling).
PNET_CELL = 12
PNET_STRIDE = 2
# Pyramid levels are zero-padded to a multiple of this so that images of many sizes share a few
# compiled P-Net shapes; outputs that see the padding are discarded.
PNET_SHAPE_BUCKET = 32
MIN_BATCH_BUCKET = 16


class ChannelPReLU(nn.Module):
    """PReLU with one learned slope per channel (Keras `PReLU(shared_axes=[1, 2])`)."""

    @nn.compact
    def __call__(self, x):
        alpha = self.param("alpha", nn.initializers.constant(0.25), (x.shape[-1],), jnp.float32)
        return jnp.where(x >= 0, x, alpha * x)


def _conv(features: int, kernel: int, name: str) -> nn.Conv:
    return nn.Conv(features, (kernel, kernel), padding="VALID", name=name)


def _flatten_wh(x):
    """(B, H, W, C) -> (B, W*H*C) in the (W, H, C) order the dense weights expect."""
    return jnp.transpose(x, (0, 2, 1, 3)).reshape(x.shape[0], -1)


class PNet(nn.Module):
    """Proposal network: (B, H, W, 3) normalised RGB, H, W >= 12 -> dict of
    "box" (B, h, w, 4) window offsets in units of the 12-pixel window and
    "prob" (B, h, w, 2) softmax [not face, face], h = ceil((H - 2) / 2) - 4."""

    @nn.compact
    def __call__(self, x):
        x = ChannelPReLU(name="prelu1")(_conv(10, 3, "conv1")(x))
        x = nn.max_pool(x, (2, 2), (2, 2), padding="SAME")
        x = ChannelPReLU(name="prelu2")(_conv(16, 3, "conv2")(x))
        x = ChannelPReLU(name="prelu3")(_conv(32, 3, "conv3")(x))
        box = _conv(4, 1, "conv4_1")(x)
        prob = nn.softmax(_conv(2, 1, "conv4_2")(x), axis=-1)
        return {"box": box, "prob": prob}


class RNet(nn.Module):
    """Refinement network: (B, 24, 24, 3) -> "box" (B, 4) offsets in box widths, "prob" (B, 2)."""

    @nn.compact
    def __call__(self, x):
        x = ChannelPReLU(name="prelu1")(_conv(28, 3, "conv1")(x))
        x = nn.max_pool(x, (3, 3), (2, 2), padding="SAME")
        x = ChannelPReLU(name="prelu2")(_conv(48, 3, "conv2")(x))
        x = nn.max_pool(x, (3, 3), (2, 2), padding="VALID")
        x = ChannelPReLU(name="prelu3")(_conv(64, 2, "conv3")(x))
        x = ChannelPReLU(name="prelu4")(nn.Dense(128, name="fc4")(_flatten_wh(x)))
        box = nn.Dense(4, name="fc5_1")(x)
        prob = nn.softmax(nn.Dense(2, name="fc5_2")(x), axis=-1)
        return {"box": box, "prob": prob}


class ONet(nn.Module):
    """Output network: (B, 48, 48, 3) -> "box" (B, 4), "points" (B, 10) as x1..x5, y1..y5 in
    box-relative units, "prob" (B, 2)."""

    @nn.compact
    def __call__(self, x):
        x = ChannelPReLU(name="prelu1")(_conv(32, 3, "conv1")(x))
        x = nn.max_pool(x, (3, 3), (2, 2), padding="SAME")
        x = ChannelPReLU(name="prelu2")(_conv(64, 3, "conv2")(x))
        x = nn.max_pool(x, (3, 3), (2, 2), padding="VALID")
        x = ChannelPReLU(name="prelu3")(_conv(64, 3, "conv3")(x))
        x = nn.max_pool(x, (2, 2), (2, 2), padding="SAME")
        x = ChannelPReLU(name="prelu4")(_conv(128, 2, "conv4")(x))
        x = ChannelPReLU(name="prelu5")(nn.Dense(256, name="fc5")(_flatten_wh(x)))
        box = nn.Dense(4, name="fc6_1")(x)
        points = nn.Dense(10, name="fc6_2")(x)
        prob = nn.softmax(nn.Dense(2, name="fc6_3")(x), axis=-1)
        return {"box": box, "points": points, "prob": prob}


# Layer order of each network's Keras `get_weights()` list: conv/dense layers own (kernel, bias),
# PReLU layers own (alpha,).
WEIGHT_LAYOUT = {
    "pnet": ("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4_1", "conv4_2"),
    "rnet": ("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "fc4", "prelu4",
             "fc5_1", "fc5_2"),
    "onet": ("conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4", "prelu4",
             "fc5", "prelu5", "fc6_1", "fc6_2", "fc6_3"),
}
NETWORKS = {"pnet": PNet, "rnet": RNet, "onet": ONet}
NETWORK_INPUT = {"pnet": 12, "rnet": 24, "onet": 48}


def keras_weights_to_params(net: str, arrays: list[np.ndarray]) -> dict:
    """Keras `get_weights()` list of one network -> Flax variables {"params": {...}}.

    Raises ValueError when the list does not match the network's layout or the shapes of a
    freshly initialised network of the same kind.
    """
    layout = WEIGHT_LAYOUT[net]
    expected_len = sum(1 if name.startswith("prelu") else 2 for name in layout)
    if len(arrays) != expected_len:
        raise ValueError(f"{net}: expected {expected_len} weight arrays, got {len(arrays)}")
    params, it = {}, iter(arrays)
    for name in layout:
        if name.startswith("prelu"):
            params[name] = {"alpha": np.asarray(next(it), np.float32).reshape(-1)}
        else:
            params[name] = {"kernel": np.asarray(next(it), np.float32),
                            "bias": np.asarray(next(it), np.float32)}
    reference = jax.eval_shape(lambda: init_params(net, jax.random.key(0)))["params"]
    for name, leaves in params.items():
        for leaf, value in leaves.items():
            want = tuple(reference[name][leaf].shape)
            if value.shape != want:
                raise ValueError(f"{net}.{name}.{leaf}: weight shape {value.shape}, network "
                                 f"expects {want}")
    return {"params": params}


def init_params(net: str, rng: jax.Array) -> dict:
    """Randomly initialised variables of one network ("pnet" | "rnet" | "onet")."""
    size = NETWORK_INPUT[net]
    return NETWORKS[net]().init(rng, jnp.zeros((1, size, size, 3), jnp.float32))


def mtcnn_weights_dir() -> pathlib.Path:
    """Folder of the pretrained weights inside the installed `mtcnn` wheel (not imported)."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "MTCNN weights come from the `mtcnn` wheel: pip install 'ferjax[detect]' "
            "(mtcnn==1.0.0, joblib, lz4; TensorFlow is not needed).")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "assets" / "weights"


def load_mtcnn_params(weights_dir: str | pathlib.Path | None = None) -> dict[str, dict]:
    """Pretrained variables {"pnet": ..., "rnet": ..., "onet": ...} from the wheel's lz4 files
    (or from weights_dir holding files of the same names)."""
    import joblib  # optional dependency (extra "detect"), needed only here

    folder = pathlib.Path(weights_dir) if weights_dir is not None else mtcnn_weights_dir()
    result = {}
    for net, file_name in WEIGHT_FILES.items():
        path = folder / file_name
        if not path.is_file():
            raise FileNotFoundError(f"MTCNN weight file missing: {path}")
        result[net] = keras_weights_to_params(net, list(joblib.load(path)))
    return result


@dataclasses.dataclass(frozen=True)
class MTCNNConfig:
    """Cascade settings; defaults are those of the original and of the `mtcnn` wheel.

    min_face_size: smallest face side (pixels) the pyramid looks for.
    scale_factor: ratio between pyramid levels.
    thresholds: face-probability thresholds of P-Net, R-Net, O-Net.
    nms_thresholds: overlap thresholds of NMS within a pyramid level, across levels (both IoU),
      after R-Net (IoU) and after O-Net (intersection over the smaller box).
    """
    min_face_size: float = 20.0
    scale_factor: float = 0.709
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8)
    nms_thresholds: tuple[float, float, float, float] = (0.5, 0.7, 0.7, 0.7)

    def __post_init__(self):
        if not self.min_face_size > 0:
            raise ValueError(f"MTCNNConfig.min_face_size must be > 0, got {self.min_face_size}")
        if not 0.0 < self.scale_factor < 1.0:
            raise ValueError(f"MTCNNConfig.scale_factor must be in (0, 1), got {self.scale_factor}")
        for field, count in (("thresholds", 3), ("nms_thresholds", 4)):
            values = getattr(self, field)
            if len(values) != count or not all(0.0 <= v <= 1.0 for v in values):
                raise ValueError(f"MTCNNConfig.{field} must be {count} numbers in [0, 1], "
                                 f"got {values}")


@dataclasses.dataclass(frozen=True)
class Detections:
    """Faces found in one image, best score first.

    boxes: float32 (N, 4) x1, y1, x2, y2 in input pixels (may extend past the image border).
    scores: float32 (N,) O-Net face probability.
    points: float32 (N, 5, 2) (x, y): image-left eye, image-right eye, nose, image-left mouth
      corner, image-right mouth corner.
    """
    boxes: np.ndarray
    scores: np.ndarray
    points: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def normalise_image(image: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> float32 (H, W, 3) in the networks' (x - 127.5) / 128 units."""
    return (image.astype(np.float32) - 127.5) / 128.0


def pyramid_scales(height: int, width: int, min_face_size: float,
                   scale_factor: float) -> list[float]:
    """Scales at which a 12-pixel P-Net window covers faces from min_face_size upwards, as long
    as the scaled image's shorter side is at least 12 pixels."""
    scale = PNET_CELL / min_face_size
    shorter = min(height, width)
    scales = []
    while shorter * scale >= PNET_CELL:
        scales.append(scale)
        scale *= scale_factor
    return scales


def pnet_valid_size(size: int) -> int:
    """P-Net output rows that do not depend on anything below row `size` of the input: the
    SAME pooling of an odd-sized map reads one row past the valid convolution output."""
    return (size - 2) // 2 - 4


def pnet_candidates(prob: np.ndarray, offsets: np.ndarray, scale_y: float, scale_x: float,
                    threshold: float) -> np.ndarray:
    """Face windows of one pyramid level.

    prob (h, w) face probability, offsets (h, w, 4) regression of the 12-pixel window, scale_y,
    scale_x the level's size over the image's. Returns (N, 5) x1, y1, x2, y2 (image pixels,
    regressed), score.
    """
    ys, xs = np.nonzero(prob > threshold)
    x1 = xs * PNET_STRIDE + offsets[ys, xs, 0] * PNET_CELL
    y1 = ys * PNET_STRIDE + offsets[ys, xs, 1] * PNET_CELL
    x2 = xs * PNET_STRIDE + PNET_CELL + offsets[ys, xs, 2] * PNET_CELL
    y2 = ys * PNET_STRIDE + PNET_CELL + offsets[ys, xs, 3] * PNET_CELL
    return np.stack([x1 / scale_x, y1 / scale_y, x2 / scale_x, y2 / scale_y,
                     prob[ys, xs]], axis=1).astype(np.float64)


def square_boxes(boxes: np.ndarray) -> np.ndarray:
    """Grow each box (N, >=4) to a square of its longer side about the same centre; boxes whose
    regression collapsed them below one pixel are dropped."""
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] += 0.5 * (w - side)
    boxes[:, 1] += 0.5 * (h - side)
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes[side >= 1.0]


def regress_boxes(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply R-Net/O-Net offsets (N, 4), in units of the box size (x2 - x1 + 1), to boxes."""
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, :4] += offsets * np.stack([w, h, w, h], axis=1)
    return boxes


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Cut boxes (N, >=4) out of a normalised image (H, W, 3) at integer pixels (inclusive
    corners), zero outside the image, each resized to (size, size) with area interpolation.
    Returns float32 (N, size, size, 3)."""
    height, width = image.shape[:2]
    patches = np.zeros((len(boxes), size, size, 3), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(np.round(boxes[:, :4]).astype(np.int64)):
        canvas = np.zeros((y2 - y1 + 1, x2 - x1 + 1, 3), np.float32)
        sx1, sy1 = max(x1, 0), max(y1, 0)
        sx2, sy2 = min(x2, width - 1), min(y2, height - 1)
        if sx2 >= sx1 and sy2 >= sy1:
            canvas[sy1 - y1:sy2 - y1 + 1, sx1 - x1:sx2 - x1 + 1] = image[sy1:sy2 + 1, sx1:sx2 + 1]
        patches[i] = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return patches


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def run_batched(apply_fn: Callable, variables: Any, patches: np.ndarray) -> dict[str, np.ndarray]:
    """Run a jitted network on (N, s, s, 3) patches padded to a power-of-two batch (so only a
    few shapes are ever compiled); returns the first N rows of each output."""
    count = patches.shape[0]
    padded = max(MIN_BATCH_BUCKET, 1 << max(count - 1, 0).bit_length())
    batch = np.zeros((padded,) + patches.shape[1:], np.float32)
    batch[:count] = patches
    outputs = apply_fn(variables, batch)
    return {k: np.asarray(v)[:count] for k, v in outputs.items()}


def run_pnet(apply_fn: Callable, variables: Any, level: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """P-Net on one pyramid level (h, w, 3), zero-padded to a bucketed shape; returns the valid
    face probabilities (h', w') and offsets (h', w', 4)."""
    height, width = level.shape[:2]
    padded = np.zeros((_round_up(height, PNET_SHAPE_BUCKET), _round_up(width, PNET_SHAPE_BUCKET),
                       3), np.float32)
    padded[:height, :width] = level
    outputs = apply_fn(variables, padded[None])
    rows, cols = pnet_valid_size(height), pnet_valid_size(width)
    prob = np.asarray(outputs["prob"])[0, :rows, :cols, 1]
    offsets = np.asarray(outputs["box"])[0, :rows, :cols]
    return prob, offsets


def pnet_stage(image: np.ndarray, apply_fn: Callable, variables: Any,
               config: MTCNNConfig) -> np.ndarray:
    """Proposals (N, 5) x1, y1, x2, y2, score from the image pyramid of a normalised image."""
    height, width = image.shape[:2]
    per_level = []
    for scale in pyramid_scales(height, width, config.min_face_size, config.scale_factor):
        new_h, new_w = math.ceil(height * scale), math.ceil(width * scale)
        level = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        prob, offsets = run_pnet(apply_fn, variables, level)
        boxes = pnet_candidates(prob, offsets, new_h / height, new_w / width,
                                config.thresholds[0])
        if len(boxes):
            per_level.append(boxes[nms(boxes[:, :4], boxes[:, 4], config.nms_thresholds[0])])
    if not per_level:
        return np.zeros((0, 5))
    boxes = np.concatenate(per_level)
    boxes = boxes[nms(boxes[:, :4], boxes[:, 4], config.nms_thresholds[1])]
    return square_boxes(boxes)


def rnet_stage(image: np.ndarray, boxes: np.ndarray, apply_fn: Callable, variables: Any,
               config: MTCNNConfig) -> np.ndarray:
    """Refined, squared boxes (M, 5) from P-Net proposals (N, 5)."""
    outputs = run_batched(apply_fn, variables, crop_patches(image, boxes, NETWORK_INPUT["rnet"]))
    boxes = boxes.copy()
    boxes[:, 4] = outputs["prob"][:, 1]
    boxes = regress_boxes(boxes, outputs["box"])
    boxes = boxes[boxes[:, 4] > config.thresholds[1]]
    boxes = boxes[nms(boxes[:, :4], boxes[:, 4], config.nms_thresholds[2])]
    return square_boxes(boxes)


def onet_stage(image: np.ndarray, boxes: np.ndarray, apply_fn: Callable, variables: Any,
               config: MTCNNConfig) -> Detections:
    """Final boxes, scores and 5 landmarks from R-Net boxes (N, 5)."""
    outputs = run_batched(apply_fn, variables, crop_patches(image, boxes, NETWORK_INPUT["onet"]))
    w = boxes[:, 2:3] - boxes[:, 0:1] + 1
    h = boxes[:, 3:4] - boxes[:, 1:2] + 1
    points = np.stack([w * outputs["points"][:, :5] + boxes[:, 0:1] - 1,
                       h * outputs["points"][:, 5:] + boxes[:, 1:2] - 1], axis=-1)
    boxes = boxes.copy()
    boxes[:, 4] = outputs["prob"][:, 1]
    boxes = regress_boxes(boxes, outputs["box"])
    keep = np.nonzero(boxes[:, 4] > config.thresholds[2])[0]
    keep = keep[nms(boxes[keep, :4], boxes[keep, 4], config.nms_thresholds[3], method="min")]
    return Detections(boxes=boxes[keep, :4].astype(np.float32),
                      scores=boxes[keep, 4].astype(np.float32),
                      points=points[keep].astype(np.float32))


def empty_detections() -> Detections:
    return Detections(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32),
                      np.zeros((0, 5, 2), np.float32))


def _jitted_networks() -> dict[str, Callable]:
    """One jitted apply per network; jit keeps one executable per input shape."""
    return {net: jax.jit(module().apply) for net, module in NETWORKS.items()}


class MTCNN:
    """The three-stage detector with its variables and jitted networks.

    `MTCNN()` loads the pretrained weights from the `mtcnn` wheel; pass `variables` (a dict with
    "pnet", "rnet", "onet" Flax variables) to use others. `detect(image)` takes uint8 RGB or grey
    (H, W, C) and returns Detections.
    """

    def __init__(self, variables: dict[str, dict] | None = None,
                 config: MTCNNConfig = MTCNNConfig()):
        self.variables = variables if variables is not None else load_mtcnn_params()
        self.config = config
        self.apply_fns = _jitted_networks()

    def __getstate__(self):
        # Compiled functions do not pickle; worker processes rebuild (and recompile) them.
        return {"variables": self.variables, "config": self.config}

    def __setstate__(self, state):
        self.__init__(state["variables"], state["config"])

    def detect(self, image: np.ndarray) -> Detections:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
            raise ValueError(f"MTCNN.detect expects a uint8 (H, W, 1|3) image, got "
                             f"{image.dtype} {image.shape}")
        if image.shape[2] == 1:
            image = np.repeat(image, 3, axis=2)
        normalised = normalise_image(image)
        boxes = pnet_stage(normalised, self.apply_fns["pnet"], self.variables["pnet"],
                           self.config)
        if len(boxes):
            boxes = rnet_stage(normalised, boxes, self.apply_fns["rnet"],
                               self.variables["rnet"], self.config)
        if not len(boxes):
            return empty_detections()
        return onet_stage(normalised, boxes, self.apply_fns["onet"], self.variables["onet"],
                          self.config)
