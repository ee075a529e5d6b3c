"""EmotionalDAN (Tautkutė & Trzcinski): a Deep Alignment Network with an emotion head.

Each stage is the Table 1 trunk (conv1a..conv4b, 3×3 "same" convolutions with bias, 2×2/2
max-pool after each pair, fc1 256) with two heads: fc2_landmark (68×2, a delta to the stage's
input shape) and fc2_emotion (3, 7 or 8 classes). Stage 1 sees the image and outputs
S_1 = S_0 + ΔS_1 with S_0 the mean shape; stage t ≥ 2 sees the image warped to the mean shape
by the similarity transform T_t of S_{t−1}, the heatmap of T_t(S_{t−1}) and a feature image made
from stage t−1's fc1, and outputs S_t = T_t⁻¹(T_t(S_{t−1}) + ΔS_t) (ferjax.models.dan_layers).

Choices where the paper is silent or the authors' code differs (docs/decisions.md,
"EmotionalDAN"), each with the model_config field that selects the alternative:
  * BN after the activation, conv → ReLU → BN, with TF's defaults momentum 0.99, eps 1e-3, as
    the code (`bn_order`: "relu_bn" | "bn_relu" | "none").
  * One dropout (0.5) on the flattened pool4 output before fc1, as the code; the paper's text
    says "after pooling layers" (`dropout_placement`: "fc1" | "every_pool").
  * S_0 is the mean of the training landmarks (data_info["mean_landmarks"]); the code's use of
    the first training sample is a bug and is not offered.
  * Stages ≥ 2 batch-normalise their 3-channel input (warped image, heatmap, feature image), as
    the code; stage 1 takes the standardised image as is (`stage_input_bn`).
  * The feature-image dense layer (fc1 → (H/2)·(W/2), ReLU, ×2 upscaling) belongs to the stage
    that consumes it, so training stage t trains it and freezing stage t freezes it. The
    upscaling is nearest-neighbour as the code (`feature_upscale`: "nearest" | "bilinear").
  * The heatmap is drawn in a 16×16 patch per landmark (`heatmap_patch`) anchored as DAN's code:
    the point clamped 8 px inside the border, patch at its truncated position
    (`heatmap_anchor`: "code" | "round", the latter unclamped and rounded).
  * fc2_landmark of stages ≥ 2 starts at zero, so a newly added stage starts as the identity
    refinement S_t = S_{t−1} and cannot start worse than the stage before it; the paper is
    silent; `zero_init_refinement=False` gives the ordinary LeCun-normal initialisation).

Stage-wise training: `active_stages` is how many stages run (the later ones are still created at
init so the variable tree is the same in every phase); stages with index < `frozen_stages` run in
inference mode (BN running averages, no dropout) under stop_gradient.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ferjax import ibug68
from ferjax.models import dan_layers
from ferjax.models.from_config import module_kwargs

# Table 1: (name, width multiplier of base_channels) of each conv layer; a pool follows each "b".
TRUNK = (("conv1a", 1), ("conv1b", 1), ("conv2a", 2), ("conv2b", 2),
         ("conv3a", 4), ("conv3b", 4), ("conv4a", 8), ("conv4b", 8))
BN_ORDERS = ("relu_bn", "bn_relu", "none")
DROPOUT_PLACEMENTS = ("fc1", "every_pool")


class ConvBlock(nn.Module):
    """3×3 "same" convolution with bias, ReLU and BatchNorm in the configured order.

    The block's output (post-BN for "relu_bn") is what Grad-CAM reads when it names the block,
    e.g. "stage_2/conv4a", as the authors' analysis did.
    """
    features: int
    bn_order: str = "relu_bn"
    bn_momentum: float = 0.99
    bn_epsilon: float = 1e-3

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Conv(self.features, (3, 3), padding="SAME", name="conv")(x)
        norm = lambda y: nn.BatchNorm(  # noqa: E731
            use_running_average=not train, momentum=self.bn_momentum,
            epsilon=self.bn_epsilon, name="bn")(y)
        if self.bn_order == "relu_bn":
            return norm(nn.relu(x))
        if self.bn_order == "bn_relu":
            return nn.relu(norm(x))
        return nn.relu(x)


class DANStage(nn.Module):
    """One stage: Table 1 trunk and the two heads.

    Called with the stage-1 image (B, H, W, C), or, for later stages, with the connection
    inputs (warped image (B, H, W, C), heatmap (B, H, W, 1), previous fc1 (B, F)).
    Returns (fc1 (B, F), ΔS (B, 68, 2), emotion logits (B, K)).
    """
    num_classes: int
    base_channels: int = 64
    fc_units: int = 256
    dropout_rate: float = 0.5
    dropout_placement: str = "fc1"
    bn_order: str = "relu_bn"
    bn_momentum: float = 0.99
    bn_epsilon: float = 1e-3
    input_bn: bool = False
    zero_init_delta: bool = False
    feature_upscale: str = "nearest"

    def _bn(self, name, train):
        return nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum,
                            epsilon=self.bn_epsilon, name=name)

    @nn.compact
    def __call__(self, inputs, train: bool):
        if isinstance(inputs, tuple):
            warped, heatmap, previous_fc1 = inputs
            height, width = warped.shape[1:3]
            features = nn.relu(nn.Dense((height // 2) * (width // 2),
                                        name="feature_dense")(previous_fc1))
            feature_image = dan_layers.upscale_feature_image(
                features.reshape(-1, height // 2, width // 2), (height, width),
                self.feature_upscale)
            x = jnp.concatenate([warped, heatmap, feature_image], axis=-1)
        else:
            x = inputs
        if self.input_bn:
            x = self._bn("input_bn", train)(x)
        for name, multiple in TRUNK:
            x = ConvBlock(self.base_channels * multiple, self.bn_order, self.bn_momentum,
                          self.bn_epsilon, name=name)(x, train)
            if name.endswith("b"):
                x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))
                if self.dropout_placement == "every_pool":
                    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        x = x.reshape(x.shape[0], -1)
        if self.dropout_placement == "fc1":
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        fc1 = nn.relu(nn.Dense(self.fc_units, name="fc1")(x))
        if self.bn_order != "none":
            fc1 = self._bn("fc1_bn", train)(fc1)
        # A refining stage starts as the identity (ΔS = 0, so S_t = S_{t-1}) when zero-initialised.
        delta = nn.Dense(ibug68.NUM_POINTS * 2, name="fc2_landmark",
                         kernel_init=nn.initializers.zeros if self.zero_init_delta
                         else nn.initializers.lecun_normal())(fc1)
        logits = nn.Dense(self.num_classes, name="fc2_emotion")(fc1)
        return fc1, delta.reshape(-1, ibug68.NUM_POINTS, 2), logits


class EmotionalDAN(nn.Module):
    """Multi-stage EmotionalDAN.

    Attributes:
      mean_shape: 68 (x, y) pixel points in the model-input frame: S_0 and the canonical shape
        every later stage aligns to (a tuple so the module stays hashable).
      num_classes: 3, 7 or 8 emotion classes.
      num_stages: stages created (default 2).
      active_stages: stages run (None = num_stages).
      frozen_stages: the first `frozen_stages` stages run in inference mode under stop_gradient.
    Returns from __call__(images (B, H, W, C) float32, train):
      {"logits": (B, K) last run stage's emotion logits, "landmarks": (B, 68, 2) its S_t,
       "stage_landmarks": (T, B, 68, 2), "stage_logits": (T, B, K)} with T the stages run.
    """
    mean_shape: tuple
    num_classes: int
    num_stages: int = 2
    active_stages: int | None = None
    frozen_stages: int = 0
    base_channels: int = 64
    fc_units: int = 256
    dropout_rate: float = 0.5
    dropout_placement: str = "fc1"
    bn_order: str = "relu_bn"
    bn_momentum: float = 0.99
    bn_epsilon: float = 1e-3
    stage_input_bn: bool = True
    heatmap_patch: int = 16
    heatmap_anchor: str = "code"
    feature_upscale: str = "nearest"
    zero_init_refinement: bool = True

    def _stage(self, index: int) -> DANStage:
        return DANStage(num_classes=self.num_classes, base_channels=self.base_channels,
                        fc_units=self.fc_units, dropout_rate=self.dropout_rate,
                        dropout_placement=self.dropout_placement, bn_order=self.bn_order,
                        bn_momentum=self.bn_momentum, bn_epsilon=self.bn_epsilon,
                        input_bn=self.stage_input_bn and index > 0,
                        zero_init_delta=self.zero_init_refinement and index > 0,
                        feature_upscale=self.feature_upscale,
                        name=f"stage_{index + 1}")

    @nn.compact
    def __call__(self, images: jnp.ndarray, train: bool = False):
        if images.ndim != 4 or images.shape[1] % 16 or images.shape[2] % 16:
            raise ValueError(f"EmotionalDAN needs images (B, H, W, C) with H and W multiples "
                             f"of 16 (four 2×2 pools); got shape {images.shape}")
        mean = jnp.asarray(self.mean_shape, jnp.float32)
        shape = jnp.broadcast_to(mean, (images.shape[0],) + mean.shape)
        # At init every stage is built so that later training phases find their variables.
        run = self.num_stages if self.is_initializing() else (
            self.active_stages or self.num_stages)
        fc1 = None
        stage_landmarks, stage_logits = [], []
        for index in range(run):
            frozen = index < self.frozen_stages and not self.is_initializing()
            if index == 0:
                fc1, delta, logits = self._stage(index)(images, train and not frozen)
                shape = shape + delta
            else:
                A, t = dan_layers.estimate_similarity_transform(shape, mean)
                warped = dan_layers.warp_image(images, A, t)
                heatmap = dan_layers.landmark_heatmap(
                    dan_layers.apply_transform(shape, A, t), images.shape[1:3],
                    self.heatmap_patch, self.heatmap_anchor)
                fc1, delta, logits = self._stage(index)((warped, heatmap, fc1),
                                                        train and not frozen)
                shape = dan_layers.next_shape(shape, delta, A, t)
            if frozen:
                fc1, shape, logits = jax.lax.stop_gradient((fc1, shape, logits))
            stage_landmarks.append(shape)
            stage_logits.append(logits)
        return {"logits": stage_logits[-1], "landmarks": stage_landmarks[-1],
                "stage_landmarks": jnp.stack(stage_landmarks),
                "stage_logits": jnp.stack(stage_logits)}


def _check_choice(field: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"config.model.{field}={value!r}; choose one of {list(choices)}")


def _check(model: EmotionalDAN) -> None:
    _check_choice("bn_order", model.bn_order, BN_ORDERS)
    _check_choice("dropout_placement", model.dropout_placement, DROPOUT_PLACEMENTS)
    _check_choice("heatmap_anchor", model.heatmap_anchor, dan_layers.HEATMAP_ANCHORS)
    _check_choice("feature_upscale", model.feature_upscale, dan_layers.UPSCALE_METHODS)
    if model.num_stages < 1:
        raise ValueError(f"config.model.num_stages={model.num_stages}; need at least 1")
    active = model.active_stages
    if active is not None and not 1 <= active <= model.num_stages:
        raise ValueError(f"config.model.active_stages={active}; need "
                         f"1..num_stages={model.num_stages}")
    if not 0 <= model.frozen_stages < (active or model.num_stages):
        raise ValueError(f"config.model.frozen_stages={model.frozen_stages}; need "
                         f"0..active_stages-1 so that one stage trains")


def emotional_dan_from_config(model_config: Mapping[str, Any],
                              data_info: Mapping[str, Any]) -> EmotionalDAN:
    """Builds EmotionalDAN from config.model and data_info (needs "mean_landmarks" (68, 2)).

    config.model: name and any of EmotionalDAN's attributes but mean_shape and num_classes
    (num_stages, active_stages, frozen_stages, base_channels, fc_units, dropout_rate,
    dropout_placement, bn_order, bn_momentum, bn_epsilon, stage_input_bn, heatmap_patch,
    heatmap_anchor, feature_upscale, zero_init_refinement); unset ones keep the module's defaults.
    """
    if data_info.get("mean_landmarks") is None:
        raise ValueError("emotional_dan needs data_info['mean_landmarks'] (68, 2): the mean "
                         "training shape, in the model input's pixel frame")
    mean = np.asarray(data_info["mean_landmarks"], np.float64)
    if mean.shape != (ibug68.NUM_POINTS, 2) or not np.all(np.isfinite(mean)):
        raise ValueError(f"data_info['mean_landmarks'] must be finite with shape "
                         f"({ibug68.NUM_POINTS}, 2); got shape {mean.shape}")
    num_classes = int(data_info["num_classes"])
    if num_classes < 2:
        raise ValueError(f"data_info['num_classes']={num_classes}; need at least 2")
    model = EmotionalDAN(
        mean_shape=tuple(map(tuple, mean.tolist())), num_classes=num_classes,
        **module_kwargs(EmotionalDAN, model_config, from_data=("mean_shape", "num_classes")))
    _check(model)
    return model
