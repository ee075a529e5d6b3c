"""Layers shared by several models."""

from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

GAMMA_INITS = ("random", "zero")


def gamma_initializer(kind: str) -> Callable[..., jnp.ndarray]:
    """Initialiser of the self-attention residual scale γ.

    "zero": SAGAN's choice (the block starts as the identity). "random": Jalal et al. 2019 say
    only "randomly initialised"; we draw U[0, 1), the distribution of PyTorch's `torch.rand`,
    the idiom of the framework the paper used.
    """
    if kind == "zero":
        return nn.initializers.zeros
    if kind == "random":
        return nn.initializers.uniform(scale=1.0)
    raise ValueError(f"gamma_init={kind!r} is not one of {GAMMA_INITS}")


def attention_weights(queries: jnp.ndarray, keys: jnp.ndarray) -> jnp.ndarray:
    """Softmax over key positions of query·key dot products (no 1/√d scaling, as SAGAN).

    Args:
      queries: (B, N, D) float.
      keys: (B, N, D) float.
    Returns:
      (B, N_query, N_key) weights; each row sums to 1.
    """
    logits = jnp.einsum("bqd,bkd->bqk", queries, keys)
    return jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(queries.dtype)


class SelfAttention2D(nn.Module):
    """SAGAN-style self-attention over the spatial positions of an NHWC feature map.

    j = W_j y, k = W_k y (1×1 convs to C / `reduction` channels), l = W_l y (1×1 conv to C);
    e = softmax_over_keys(j(y_q)ᵀ k(y_k)); out = γ · (e · l(y)) + y  (Zhang et al. 2018, SAGAN;
    Jalal et al. 2019 Eq. 2–4). The 1×1 convs have biases (PyTorch's Conv2d default).

    Attributes:
      reduction: channel reduction of the query/key projections (paper: 8).
      gamma_init: "random" (Jalal et al.) or "zero" (SAGAN).
    """

    reduction: int = 8
    gamma_init: str = "random"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, y: jnp.ndarray, return_attention: bool = False):
        """Args:
          y: (B, H, W, C) features.
          return_attention: also return the attention map.
        Returns:
          (B, H, W, C) output, and with `return_attention` the (B, H·W, H·W) weights whose row q
          (a query position in row-major h·W + w order) sums to 1 over the key positions.
        """
        if y.ndim != 4:
            raise ValueError(f"SelfAttention2D expects (B, H, W, C) features, got shape {y.shape}")
        b, h, w, c = y.shape
        if c < self.reduction:
            raise ValueError(f"SelfAttention2D: {c} channels cannot be reduced by {self.reduction}")
        inner = c // self.reduction
        query = nn.Conv(inner, (1, 1), dtype=self.dtype, name="W_j")(y).reshape(b, h * w, inner)
        key = nn.Conv(inner, (1, 1), dtype=self.dtype, name="W_k")(y).reshape(b, h * w, inner)
        value = nn.Conv(c, (1, 1), dtype=self.dtype, name="W_l")(y).reshape(b, h * w, c)
        gamma = self.param("gamma", gamma_initializer(self.gamma_init), (1,), jnp.float32)
        weights = attention_weights(query, key)
        attended = jnp.einsum("bqk,bkc->bqc", weights, value).reshape(b, h, w, c)
        out = gamma.astype(y.dtype) * attended + y
        return (out, weights) if return_attention else out


def adaptive_avg_pool(x: jnp.ndarray, output_size: tuple[int, int]) -> jnp.ndarray:
    """PyTorch's AdaptiveAvgPool2d on NHWC input.

    Output cell (i, j) averages rows [⌊i·H/h⌋, ⌈(i+1)·H/h⌉) and columns likewise, so any input
    size ≥ 1 gives exactly `output_size` (bins overlap or repeat when the input is smaller).

    Args:
      x: (B, H, W, C).
      output_size: (h, w).
    Returns:
      (B, h, w, C).
    """
    _, height, width, _ = x.shape
    out_h, out_w = output_size

    def bins(size: int, out: int) -> list[tuple[int, int]]:
        return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]

    rows = [jnp.mean(x[:, r0:r1], axis=1) for r0, r1 in bins(height, out_h)]
    x = jnp.stack(rows, axis=1)  # (B, h, W, C)
    cols = [jnp.mean(x[:, :, c0:c1], axis=2) for c0, c1 in bins(width, out_w)]
    return jnp.stack(cols, axis=2)
