"""Sun et al. 2018, "A visual attention based ROI detection method for facial expression
recognition" (Neurocomputing 296): the baseline CNN (Table 2), the CNN with visual attention
(Table 3, Eq. 1-5) and the CNN with global average pooling (Section 4.3).

Input: float32 (B, H, W, C) with (H, W) = (144, 112) in the paper (it writes 112×144 as
width×height; after four 2×2 poolings the map is 9×7, the paper's "7×9×128").

Choices where the paper is silent or ambiguous (config option in brackets):
- No biases anywhere in the convolutional part or the classifier: Table 2's total of 360,720
  trainable parameters is exactly the weights (3·3·1·16 + ... + 8064·7) [none; fixed by Table 2].
- The attention mapping has the biases b1, b2 of Eq. 2-3; Table 3 lists only its weights
  (128·66 + 66·1) [model.attention_bias].
- ReLU after every convolution (VGG-style, which the paper says inspired it) [fixed].
- He-normal initialisation of the convolutions: with LeCun-normal (flax's default) the signal
  shrinks by about half per ReLU layer through ten bias-free layers, and training started from
  near-constant logits [fixed; the paper does not say].
- Dropout rate 0.5; the paper names the layer but not the rate [model.dropout_rate].
- β = 1 as the paper uses [model.beta].
- Eq. 5 (symmetric map) as printed divides the mirrored exponentials by the *un-mirrored* sum, so
  its weights do not sum to one (Jensen) although it is presented as a drop-in for the softmax
  of Eq. 4. We normalise by the sum of the mirrored exponentials, i.e. a softmax of the
  symmetrised scores [model.symmetric_denominator="symmetrized"]; "paper" selects the printed
  denominator.
- When training on one CPU device, the trunk's weight gradients of kernels with ≥ 32 outputs
  are summed over batch chunks (the same convolution's gradient, summed in another order;
  ferjax.models.conv_grad; measured in docs/performance.md: the 144×112 step 1.13× faster, 48²
  unchanged within the spread) [model.conv_grad_positions; 0 = XLA's own].
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ferjax.models import conv_grad
from ferjax.models.from_config import module_kwargs

# (channels, number of 3×3 convolutions) per block; each block ends in a 2×2 max-pool (Table 2).
CONV_PLAN: tuple[tuple[int, int], ...] = ((16, 3), (32, 3), (64, 2), (128, 2))


class SunConvTrunk(nn.Module):
    """Ten 3×3 convolutions without bias, ReLU, four 2×2 max-pools: (B,H,W,C) -> (B,H/16,W/16,128)."""

    plan: Sequence[tuple[int, int]] = CONV_PLAN
    batch_norm: bool = False
    # Weight gradients summed over batch chunks when training (ferjax.models.conv_grad).
    conv_grad_positions: int = conv_grad.AUTO

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        conv = conv_grad.for_training(self.conv_grad_positions, train)
        for block, (features, repeats) in enumerate(self.plan):
            for i in range(repeats):
                x = nn.Conv(features, (3, 3), padding="SAME", use_bias=False,
                            kernel_init=nn.initializers.he_normal(), conv_general_dilated=conv,
                            name=f"conv{block + 1}_{i + 1}")(x)
                if self.batch_norm:
                    x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                                     name=f"bn{block + 1}_{i + 1}")(x)
                x = nn.relu(x)
            x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        return x


def attention_weight_map(scores: jnp.ndarray, beta: float = 1.0, symmetric: bool = False,
                         symmetric_denominator: str = "symmetrized") -> jnp.ndarray:
    """Spatial weight map B from importance scores A2 (Eq. 4, or Eq. 5 when `symmetric`).

    Args:
      scores: A2, float (B, h, w); w is the image's horizontal axis (the paper's W).
      beta: the sharpness β.
      symmetric: use Eq. 5, mirroring across the vertical midline of the face.
      symmetric_denominator: "symmetrized" (weights sum to 1) or "paper" (Eq. 5 as printed).
    Returns:
      B, float (B, h, w); sums to 1 over (h, w) except for the printed Eq. 5.
    """
    b, h, w = scores.shape
    flat = beta * scores.reshape(b, h * w)
    if not symmetric:
        return jax.nn.softmax(flat, axis=-1).reshape(b, h, w)
    mirrored = 0.5 * beta * (scores + scores[:, :, ::-1]).reshape(b, h * w)
    if symmetric_denominator == "symmetrized":
        return jax.nn.softmax(mirrored, axis=-1).reshape(b, h, w)
    if symmetric_denominator == "paper":
        log_denominator = jax.nn.logsumexp(flat, axis=-1, keepdims=True)
        return jnp.exp(mirrored - log_denominator).reshape(b, h, w)
    raise ValueError(f"config.model.symmetric_denominator={symmetric_denominator!r}; "
                     "expected 'symmetrized' or 'paper'")


class AttentionMapping(nn.Module):
    """Eq. 1-5: per-position MLP C -> hidden -> 1 with tanh, spatial softmax, weighted sum.

    (B, h, w, C) -> (z (B, C), B (B, h, w)).
    """

    hidden: int = 66
    beta: float = 1.0
    symmetric: bool = False
    use_bias: bool = True
    symmetric_denominator: str = "symmetrized"

    @nn.compact
    def __call__(self, features: jnp.ndarray):
        a1 = jnp.tanh(nn.Dense(self.hidden, use_bias=self.use_bias, name="w1")(features))
        a2 = jnp.tanh(nn.Dense(1, use_bias=self.use_bias, name="w2")(a1))[..., 0]
        weights = attention_weight_map(a2, self.beta, self.symmetric, self.symmetric_denominator)
        z = jnp.einsum("bhw,bhwc->bc", weights, features)
        return z, weights


def _dropout_fc(x: jnp.ndarray, num_classes: int, rate: float, train: bool) -> jnp.ndarray:
    """Dropout then the bias-free classifier shared by the three networks (call in compact)."""
    x = nn.Dropout(rate, deterministic=not train)(x)
    return nn.Dense(num_classes, use_bias=False, name="fc")(x.reshape(x.shape[0], -1))


class SunBaseline(nn.Module):
    """Table 2: conv trunk -> dropout -> flatten -> FC (no bias). Fixed input size."""

    num_classes: int
    dropout_rate: float = 0.5
    batch_norm: bool = False
    conv_grad_positions: int = conv_grad.AUTO

    @nn.compact
    def __call__(self, images: jnp.ndarray, *, train: bool = False) -> dict[str, jnp.ndarray]:
        features = SunConvTrunk(batch_norm=self.batch_norm, name="trunk",
                                conv_grad_positions=self.conv_grad_positions)(images, train)
        logits = _dropout_fc(features, self.num_classes, self.dropout_rate, train)
        return {"logits": logits, "features": features}


class SunAttention(nn.Module):
    """Table 3: conv trunk -> attention mapping -> dropout -> FC (no bias).

    Fully convolutional (Sec. 4.6): any input size whose sides are multiples of 16 works, and
    the weight map B, (B, H/16, W/16), is returned with the logits as "attention".
    """

    num_classes: int
    dropout_rate: float = 0.5
    batch_norm: bool = False
    conv_grad_positions: int = conv_grad.AUTO
    hidden: int = 66
    beta: float = 1.0
    symmetric: bool = False
    attention_bias: bool = True
    symmetric_denominator: str = "symmetrized"

    @nn.compact
    def __call__(self, images: jnp.ndarray, *, train: bool = False) -> dict[str, jnp.ndarray]:
        features = SunConvTrunk(batch_norm=self.batch_norm, name="trunk",
                                conv_grad_positions=self.conv_grad_positions)(images, train)
        z, weights = AttentionMapping(self.hidden, self.beta, self.symmetric, self.attention_bias,
                                      self.symmetric_denominator, name="attention")(features)
        logits = _dropout_fc(z, self.num_classes, self.dropout_rate, train)
        return {"logits": logits, "attention": weights, "features": features}


class SunGAP(nn.Module):
    """Global average pooling instead of attention: a fixed uniform weight map 1/(hw)."""

    num_classes: int
    dropout_rate: float = 0.5
    batch_norm: bool = False
    conv_grad_positions: int = conv_grad.AUTO

    @nn.compact
    def __call__(self, images: jnp.ndarray, *, train: bool = False) -> dict[str, jnp.ndarray]:
        features = SunConvTrunk(batch_norm=self.batch_norm, name="trunk",
                                conv_grad_positions=self.conv_grad_positions)(images, train)
        b, h, w, _ = features.shape
        weights = jnp.full((b, h, w), 1.0 / (h * w), features.dtype)
        logits = _dropout_fc(jnp.mean(features, axis=(1, 2)), self.num_classes,
                             self.dropout_rate, train)
        return {"logits": logits, "attention": weights, "features": features}


def _from_config(module_cls, cfg: Mapping[str, Any], data_info: Mapping[str, Any]):
    return module_cls(num_classes=int(data_info["num_classes"]),
                      **module_kwargs(module_cls, cfg, from_data=("num_classes",)))


def baseline_from_config(cfg: Mapping[str, Any], data_info: Mapping[str, Any]) -> SunBaseline:
    """Factory for "sun_baseline": config.model fields as SunBaseline's attributes."""
    return _from_config(SunBaseline, cfg, data_info)


def attention_from_config(cfg: Mapping[str, Any], data_info: Mapping[str, Any]) -> SunAttention:
    """Factory for "sun_attention": config.model fields as SunAttention's attributes."""
    return _from_config(SunAttention, cfg, data_info)


def gap_from_config(cfg: Mapping[str, Any], data_info: Mapping[str, Any]) -> SunGAP:
    """Factory for "sun_gap": config.model fields as SunGAP's attributes."""
    return _from_config(SunGAP, cfg, data_info)
