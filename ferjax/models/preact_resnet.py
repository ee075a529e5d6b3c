"""Pre-activation ResNet-18 for 32×32 inputs (He et al. 2016, "Identity mappings"), CIFAR layout.

Stem conv3×3 (width) → 4 stages of 2 pre-activation basic blocks at width·(1, 2, 4, 8) with
strides (1, 2, 2, 2) → global average pool → optional linear embedding → linear classifier.
As in the widely used CIFAR reference (and FERAtt's code) there is no BN-ReLU after the last
stage, and the convolutions have no bias. With width 64, no embedding and a 10-way head it has
11,171,146 parameters.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

# PyTorch BatchNorm defaults (momentum 0.1 of the new statistic, eps 1e-5), as the reference.
_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-5


def batch_norm(train: bool, name: str | None = None) -> nn.BatchNorm:
    return nn.BatchNorm(use_running_average=not train, momentum=_BN_MOMENTUM,
                        epsilon=_BN_EPSILON, name=name)


class PreActBlock(nn.Module):
    """BN-ReLU-conv3×3(stride) → BN-ReLU-conv3×3, plus identity or a 1×1 projection of the
    pre-activated input when the shape changes. (B, H, W, C) → (B, H/stride, W/stride, features)."""

    features: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        out = nn.relu(batch_norm(train, "bn1")(x))
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.features:
            shortcut = nn.Conv(self.features, (1, 1), strides=self.stride, use_bias=False,
                               name="shortcut")(out)
        out = nn.Conv(self.features, (3, 3), strides=self.stride, padding=1, use_bias=False,
                      name="conv1")(out)
        out = nn.relu(batch_norm(train, "bn2")(out))
        out = nn.Conv(self.features, (3, 3), padding=1, use_bias=False, name="conv2")(out)
        return out + shortcut


class PreActResNet(nn.Module):
    """Pre-activation ResNet classifier.

    Attributes:
      num_classes: K, size of "logits".
      stage_sizes: blocks per stage ((2, 2, 2, 2) = ResNet-18).
      width: stem/first-stage width (64 in the reference; smaller for tests).
      embedding_dim: if > 0, a linear layer maps the pooled features to "embedding" (B, D)
        and the classifier reads the embedding (FERAtt's G_rep); if 0, "embedding" is the
        pooled feature vector (B, 8·width) and the classifier reads it directly.
    Returns a dict: "features" (B, 8·width), "embedding" (B, D), "logits" (B, K).
    """

    num_classes: int
    stage_sizes: Sequence[int] = (2, 2, 2, 2)
    width: int = 64
    embedding_dim: int = 0

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> dict[str, jnp.ndarray]:
        out = nn.Conv(self.width, (3, 3), padding=1, use_bias=False, name="conv1")(x)
        for stage, blocks in enumerate(self.stage_sizes):
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                out = PreActBlock(self.width * 2 ** stage, stride,
                                  name=f"layer{stage + 1}_{block}")(out, train)
        features = jnp.mean(out, axis=(1, 2))
        embedding = features
        if self.embedding_dim > 0:
            embedding = nn.Dense(self.embedding_dim, name="embedding")(features)
        logits = nn.Dense(self.num_classes, name="classifier")(embedding)
        return {"features": features, "embedding": embedding, "logits": logits}
