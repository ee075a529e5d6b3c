"""A convolution whose weight gradient is summed over batch chunks (for XLA:CPU).

The weight gradient of a convolution contracts over the batch and every output position at
once. XLA:CPU lowers that to one Eigen contraction of B·H·W terms, which runs far below the
machine's matmul rate; the same sum taken over chunks of a few examples, each chunk a small
contraction, is 1.3-3.6× faster on the VGG cpu budget's layers (batch 128, 32-256 output
features, 48²-6²) on the 2-core AMD EPYC of docs/performance.md ("Convolution train steps
against PyTorch on the CPU"), and slower below 32 output features. The forward pass and the
input gradient are XLA's own, so the values are the same convolution's; only the order of the
weight gradient's summation differs.

Not differentiable twice: the weight gradient is a custom VJP (a Hessian-vector product through
a training step would need `conv_grad_positions=0`).

`chunked_weight_grad_conv(positions)` has the signature of `jax.lax.conv_general_dilated`, so a
Flax `nn.Conv(..., conv_general_dilated=...)` takes it. Models use it only when training (their
inference, the export included, is the plain convolution).
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax

AUTO = -1
CPU_POSITIONS = 4096  # measured best at 48²-12² feature maps, batch 128 (docs/performance.md)
# Below 32 output features XLA:CPU's own weight gradient is as fast or faster (16 -> 16 at 48²:
# 15 ms against 74 ms chunked), so the automatic setting leaves those convolutions alone.
CPU_MIN_FEATURES = 32


def resolve(positions: int, backend: str | None = None, devices: int | None = None) -> int:
    """A model's `conv_grad_positions` setting: AUTO (-1) is CPU_POSITIONS on a single CPU
    device and 0 (XLA's own weight gradient) otherwise.

    GPU/TPU convolution libraries need no chunking. With several devices the batch is sharded,
    and a chunk cut across the shards would move activations between devices; there each
    device's gradient stays XLA's own (measured only on one CPU device).
    """
    if positions != AUTO:
        if positions < 0:
            raise ValueError(f"config.model.conv_grad_positions={positions}; expected -1 (auto), "
                             "0 (XLA's own weight gradient) or a positive number of output "
                             "positions per chunk")
        return int(positions)
    backend = backend or jax.default_backend()
    devices = jax.device_count() if devices is None else devices
    return CPU_POSITIONS if backend == "cpu" and devices == 1 else 0


def for_training(positions: int, train: bool) -> Callable:
    """The convolution a model's nn.Conv layers use: chunked weight gradients when training
    (per `resolve(positions)`; AUTO chunks only kernels of ≥ CPU_MIN_FEATURES outputs), the
    plain lax convolution otherwise."""
    if not train:
        return lax.conv_general_dilated
    min_features = CPU_MIN_FEATURES if positions == AUTO else 0
    return chunked_weight_grad_conv(resolve(positions), min_features=min_features)


def chunk_size(batch: int, positions_per_example: int, positions: int) -> int:
    """Examples per chunk: the largest divisor of `batch` whose chunk holds at most about
    `positions` output positions (at least 1 example)."""
    target = max(1, positions // max(1, positions_per_example))
    return max(d for d in range(1, batch + 1) if batch % d == 0 and d <= target)


def chunked_weight_grad_conv(positions: int, min_features: int = 0) -> Callable:
    """lax.conv_general_dilated with its weight gradient summed over batch chunks of about
    `positions` output positions each (see chunk_size). positions ≤ 0: plain lax; kernels with
    fewer than `min_features` output features: plain lax too."""
    if positions <= 0:
        return lax.conv_general_dilated

    def conv(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
             dimension_numbers=None, feature_group_count=1, batch_group_count=1,
             precision=None, preferred_element_type=None):
        if batch_group_count != 1:  # the batch is then a contraction of the forward pass
            raise ValueError("chunked_weight_grad_conv: batch_group_count must be 1")
        plain = functools.partial(
            lax.conv_general_dilated, window_strides=window_strides, padding=padding,
            lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
            dimension_numbers=dimension_numbers, feature_group_count=feature_group_count,
            precision=precision, preferred_element_type=preferred_element_type)
        numbers = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
        if rhs.shape[numbers.rhs_spec[0]] < min_features:
            return plain(lhs, rhs)
        return _conv(plain, numbers.lhs_spec[0], numbers.out_spec, positions, lhs, rhs)

    return conv


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2, 3))
def _conv(plain, batch_axis, out_spec, positions, lhs, rhs):
    return plain(lhs, rhs)


def _conv_fwd(plain, batch_axis, out_spec, positions, lhs, rhs):
    return plain(lhs, rhs), (lhs, rhs)


def _conv_bwd(plain, batch_axis, out_spec, positions, residuals, g):
    lhs, rhs = residuals
    d_lhs = jax.vjp(lambda x: plain(x, rhs), lhs)[1](g)[0]
    per_example = 1
    for axis in out_spec[2:]:
        per_example *= g.shape[axis]
    batch = lhs.shape[batch_axis]
    size = chunk_size(batch, per_example, positions)
    # The chunks' partial sums add up in at least float32, as XLA's single contraction
    # accumulates (a bfloat16 kernel would otherwise round at every chunk).
    accumulate = jnp.promote_types(rhs.dtype, jnp.float32)
    d_rhs = jnp.zeros(rhs.shape, accumulate)
    for start in range(0, batch, size):
        x = lax.slice_in_dim(lhs, start, start + size, axis=batch_axis)
        dy = lax.slice_in_dim(g, start, start + size, axis=out_spec[0])
        part = jax.vjp(lambda k, x=x: plain(x, k), rhs)[1](dy)[0]
        d_rhs = d_rhs + part.astype(accumulate)
    return d_lhs, d_rhs.astype(rhs.dtype)


_conv.defvjp(_conv_fwd, _conv_bwd)
