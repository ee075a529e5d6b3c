"""A VGG-style FER network: the strongest single network on FER-2013 without extra data.

Khaireddin & Chen 2021, "Facial Emotion Recognition: State of the Art Performance on FER2013"
(73.28 % PrivateTest): four stages of two 3×3 convolutions, each followed by BatchNorm and
ReLU, then a 2×2 max-pool; widths 64, 128, 256, 512. Their classifier is fully connected
layers on the flattened 3×3×512 map; here the map is global-average-pooled, then dropout and
one dense layer, as the probe of 8 convolutions + BN + GAP + dropout 0.3 that reached 73.1 % in
60 epochs: far fewer parameters, and any input size works (48×48 FER-2013, or the larger faces
of other datasets).
Input: float32 (B, H, W, C); H and W at least 16 (four poolings).
`width_multiplier` scales every stage's width (rounded, at least 8), so a CPU budget can train a
narrower copy of the same network.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from ferjax.models import conv_grad
from ferjax.models.from_config import module_kwargs

WIDTHS: tuple[int, ...] = (64, 128, 256, 512)


def scaled_widths(widths: Sequence[int], multiplier: float) -> tuple[int, ...]:
    """Stage widths × multiplier, rounded, never below 8 channels."""
    if multiplier <= 0:
        raise ValueError(f"config.model.width_multiplier={multiplier}; must be > 0")
    return tuple(max(8, int(round(w * multiplier))) for w in widths)


class VGGFER(nn.Module):
    """(B, H, W, C) -> {"logits" (B, K), "features" (B, H/2^S, W/2^S, widths[-1])}.

    Attributes:
      num_classes: K (from the data).
      widths: channels of each stage (S stages, each ending in a 2×2 max-pool).
      convs_per_stage: 3×3 convolutions per stage (2 in Khaireddin & Chen).
      width_multiplier: scales `widths` (1.0 = the paper's).
      dropout_rate: before the classifier (0.3 as the probe).
      conv_grad_positions: weight gradients of the convolutions summed over batch chunks of
        about this many output positions when training; -1: 4096 on one CPU device, XLA's own
        elsewhere; 0: XLA's own (ferjax.models.conv_grad).
    """

    num_classes: int
    widths: Sequence[int] = WIDTHS
    convs_per_stage: int = 2
    width_multiplier: float = 1.0
    dropout_rate: float = 0.3
    conv_grad_positions: int = conv_grad.AUTO

    @nn.compact
    def __call__(self, images: jnp.ndarray, *, train: bool = False) -> dict[str, jnp.ndarray]:
        x = images
        conv = conv_grad.for_training(self.conv_grad_positions, train)
        for stage, features in enumerate(scaled_widths(self.widths, self.width_multiplier)):
            for i in range(self.convs_per_stage):
                # No bias: the BatchNorm that follows has its own shift.
                x = nn.Conv(features, (3, 3), padding="SAME", use_bias=False,
                            kernel_init=nn.initializers.he_normal(), conv_general_dilated=conv,
                            name=f"conv{stage + 1}_{i + 1}")(x)
                x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                                 name=f"bn{stage + 1}_{i + 1}")(x)
                x = nn.relu(x)
            x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        pooled = jnp.mean(x, axis=(1, 2))
        pooled = nn.Dropout(self.dropout_rate, deterministic=not train)(pooled)
        logits = nn.Dense(self.num_classes, name="fc")(pooled)
        return {"logits": logits, "features": x}


def vgg_from_config(cfg: Mapping[str, Any], data_info: Mapping[str, Any]) -> VGGFER:
    """Factory for "vgg_fer": config.model fields as VGGFER's attributes."""
    return VGGFER(num_classes=int(data_info["num_classes"]),
                  **module_kwargs(VGGFER, cfg, from_data=("num_classes",)))
