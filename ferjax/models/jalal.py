"""Jalal et al. 2019: convolutional self-attention network for facial emotion classification.

Paper §IV, block by block, with every size the paper leaves open (marked *):

  c1  conv 3×3 → 32, BatchNorm, ReLU.
  c2  conv 3×3 32 → 96*, ReLU, max-pool 2×2, BN; conv 5×5 96* → 192, ReLU, max-pool 2×2, BN.
  c3  conv 3×3 192 → 256*, ReLU, max-pool 2×2, BN; then two stacked convs
      3×3* 256* → 160* → 128, each with ReLU.
  a1  SAGAN self-attention (ferjax.models.layers.SelfAttention2D): 1×1 convs W_j, W_k to
      128/8 = 16 channels, W_l to 128; softmax over positions; out = γ·(e·l(y)) + y.
  c4  conv 2×2 128 → 64, ReLU, adaptive average pool to 3×3, BN.
  d1  dense 576 → 256*, ReLU, dropout 0.85; dense 256* → K (logits; the softmax lives in the
      cross-entropy loss).

Parameter count (trainable, biases on every conv and dense layer as PyTorch's defaults, BN scale
and bias counted, BN running statistics not): **1,690,025** for 3-channel input and K = 8, the
paper's setting (paper: "1.69 million"); 1,689,449 for 1-channel input and K = 8. The starred
sizes were chosen to land on that total: c2's middle width 96, c3's widths 256 and 160, dense
width 256.

Paper ambiguities and the choices made (config option for the alternative in brackets):
- "Both upsampling and downsampling is performed in c3": read as channel up- then down-sampling
  (192 → 256 → 160 → 128) with the spatial downsampling of c3's max-pool. §VI says rapid spatial
  up/down-sampling was avoided, and a spatial 2× upsample would make the attention map 16× larger
  (3,136² entries per image at 224²). [`c3_upsample=True`: nearest 2× spatial upsample before
  c3's last conv.]
- BatchNorm "after each pair of convolution and maxpooling": conv → ReLU → max-pool → BN; c1's
  order (conv, BN, ReLU) is as the paper states it. c3's stacked convs have no pool, so no BN;
  c4's adaptive pool counts as its pool, so BN follows it.
- Padding: the paper does not say. "SAME" keeps 224² → 28² at the attention block (784
  positions) and lets any input ≥ 8×8 through. ["VALID", PyTorch's default: 21² at 224², needs
  inputs ≥ 68×68.]
- Dropout "0.85": the paper's "the dropout rate is set to 0.85" with PyTorch's nn.Dropout(p),
  p = probability of zeroing, so 85 % of the 256 hidden units are dropped in training.
  [`dropout_rate`, e.g. 0.15 for a keep probability of 0.85.]
- γ "randomly initialised": U[0, 1). [`gamma_init="zero"`, SAGAN's choice.]
- No attention: `use_attention=False` removes a1 (the CNN baseline ablation; 20,641 fewer
  parameters).

Outputs: {"logits": (B, K), "self_attention": (B, N, N) the block's weights, N = h·w positions
in row-major order (row = query, summing to 1 over keys), "attention": (B, h, w) the mean over
queries of those weights (how much each position is attended to; sums to 1, the spatial weight
map of docs/architecture.md, so the generic attention figures and AU-region scores apply),
"attention_grid": (h, w)}; all but the logits only with attention.
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from ferjax.models.from_config import module_kwargs
from ferjax.models.layers import GAMMA_INITS, SelfAttention2D, adaptive_avg_pool

PADDINGS = ("SAME", "VALID")


def _max_pool(x: jnp.ndarray) -> jnp.ndarray:
    return nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))


class JalalSelfAttentionNet(nn.Module):
    """The convolutional self-attention network; see the module docstring for the layout.

    Attributes:
      num_classes: K.
      use_attention: include the self-attention block a1.
      gamma_init: "random" | "zero" (a1's γ).
      dropout_rate: drop probability of d1's dropout (paper 0.85).
      padding: "SAME" | "VALID" for every conv.
      c3_upsample: 2× nearest spatial upsample before c3's last conv.
      c2_width, c3_widths, dense_width: the sizes the paper leaves open.
      bn_momentum: BatchNorm running-average momentum (Flax convention; PyTorch's 0.1 = 0.9).
    """

    num_classes: int
    use_attention: bool = True
    gamma_init: str = "random"
    dropout_rate: float = 0.85
    padding: str = "SAME"
    c3_upsample: bool = False
    c2_width: int = 96
    c3_widths: tuple[int, int] = (256, 160)
    dense_width: int = 256
    bn_momentum: float = 0.9

    @nn.compact
    def __call__(self, images: jnp.ndarray, train: bool = False) -> dict[str, Any]:
        """Args:
          images: (B, H, W, C) float32, normalised.
          train: batch statistics and dropout on (needs rngs={"dropout": key}).
        Returns:
          dict described in the module docstring.
        """
        if images.ndim != 4:
            raise ValueError(f"JalalSelfAttentionNet expects (B, H, W, C) images, got {images.shape}")
        conv = lambda feats, k, name: nn.Conv(feats, (k, k), padding=self.padding, name=name)
        norm = lambda name: nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum,
                                         name=name)
        x = nn.relu(norm("c1_bn")(conv(32, 3, "c1_conv")(images)))
        x = norm("c2_bn1")(_max_pool(nn.relu(conv(self.c2_width, 3, "c2_conv1")(x))))
        x = norm("c2_bn2")(_max_pool(nn.relu(conv(192, 5, "c2_conv2")(x))))
        x = norm("c3_bn1")(_max_pool(nn.relu(conv(self.c3_widths[0], 3, "c3_conv1")(x))))
        x = nn.relu(conv(self.c3_widths[1], 3, "c3_conv2")(x))
        if self.c3_upsample:
            b, h, w, c = x.shape
            x = jax.image.resize(x, (b, 2 * h, 2 * w, c), method="nearest")
        x = nn.relu(conv(128, 3, "c3_conv3")(x))
        outputs: dict[str, Any] = {}
        if self.use_attention:
            x, weights = SelfAttention2D(gamma_init=self.gamma_init, name="a1")(
                x, return_attention=True)
            grid = (x.shape[1], x.shape[2])
            outputs["self_attention"] = weights
            outputs["attention"] = jnp.mean(weights, axis=1).reshape((-1,) + grid)
            outputs["attention_grid"] = grid
        x = nn.relu(conv(64, 2, "c4_conv")(x))
        x = norm("c4_bn")(adaptive_avg_pool(x, (3, 3)))
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(nn.Dense(self.dense_width, name="d1_fc1")(x))
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        outputs["logits"] = nn.Dense(self.num_classes, name="d1_fc2")(x)
        return outputs


def _check(model: JalalSelfAttentionNet) -> None:
    if model.gamma_init not in GAMMA_INITS:
        raise ValueError(f"config.model.gamma_init={model.gamma_init!r}; choose {GAMMA_INITS}")
    if model.padding not in PADDINGS:
        raise ValueError(f"config.model.padding={model.padding!r}; choose {PADDINGS}")
    if not 0.0 <= model.dropout_rate < 1.0:
        raise ValueError(f"config.model.dropout_rate={model.dropout_rate} must be in [0, 1)")


def jalal_from_config(model_config: Mapping[str, Any],
                      data_info: Mapping[str, Any]) -> JalalSelfAttentionNet:
    """Factory for the registry name "jalal_self_attention".

    model_config: name and any of JalalSelfAttentionNet's attributes (use_attention,
    gamma_init, dropout_rate, padding, c3_upsample, c2_width, c3_widths, dense_width,
    bn_momentum); unset ones keep the module's (paper) defaults.
    data_info: {"num_classes": K, ...}.
    """
    model = JalalSelfAttentionNet(
        num_classes=int(data_info["num_classes"]),
        **module_kwargs(JalalSelfAttentionNet, model_config, from_data=("num_classes",)))
    _check(model)
    return model
