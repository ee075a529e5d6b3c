"""A drop-in `conv_general_dilated` for nn.Conv that computes convolutions on feature maps
smaller than the kernel as one matrix product.

XLA's CPU convolution is pathologically slow when the map is smaller than the kernel: a 3×3,
512→512 convolution on a 2×2 map (FERAtt's ResNet34 layer 4 and decoder centre at 64×64 input)
ran at about 0.2 GFLOP/s, 15–20× slower than the same product written as patches × weights,
and 4× slower than the same convolution on a 4×4 map with 4× the work (docs/performance.md).
Such a map has at most kh·kw·C inputs per output pixel, so the patch matrix is small.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax.numpy as jnp
from jax import lax

NHWC = ("NHWC", "HWIO", "NHWC")


def _is_nhwc(dimension_numbers: Any, lhs_shape: Sequence[int], rhs_shape: Sequence[int]) -> bool:
    expected = lax.conv_dimension_numbers(lhs_shape, rhs_shape, NHWC)
    given = lax.conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    return given == expected


def _trivial(values: Sequence[int] | None) -> bool:
    return values is None or all(int(v) == 1 for v in values)


def uses_patch_product(lhs_shape: Sequence[int], rhs_shape: Sequence[int], window_strides,
                       lhs_dilation=None, rhs_dilation=None, feature_group_count: int = 1,
                       dimension_numbers: Any = None) -> bool:
    """True when `small_map_conv` computes this NHWC/HWIO convolution as patches × weights:
    stride 1, no dilation, no groups, and a map smaller than the kernel in both dimensions."""
    if dimension_numbers is None or not _is_nhwc(dimension_numbers, lhs_shape, rhs_shape):
        return False
    if not (_trivial(window_strides) and _trivial(lhs_dilation) and _trivial(rhs_dilation)):
        return False
    if feature_group_count != 1:
        return False
    height, width = lhs_shape[1], lhs_shape[2]
    kernel_h, kernel_w = rhs_shape[0], rhs_shape[1]
    return height < kernel_h and width < kernel_w


def small_map_conv(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                   dimension_numbers=None, feature_group_count: int = 1, precision=None,
                   preferred_element_type=None):
    """`lax.conv_general_dilated` with the same arguments and result; on maps smaller than the
    kernel (see `uses_patch_product`) it extracts the (B, H', W', C·kh·kw) patches and
    multiplies them by the (C·kh·kw, O) reshaped kernel.

    Args: as lax.conv_general_dilated (lhs (B, H, W, C), rhs (kh, kw, C, O) in nn.Conv's layout).
    Returns: (B, H', W', O).
    """
    if not uses_patch_product(lhs.shape, rhs.shape, window_strides, lhs_dilation, rhs_dilation,
                              feature_group_count, dimension_numbers):
        return lax.conv_general_dilated(
            lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count, precision=precision,
            preferred_element_type=preferred_element_type)
    kernel_h, kernel_w, in_channels, out_channels = rhs.shape
    patches = lax.conv_general_dilated_patches(
        lhs, (kernel_h, kernel_w), (1, 1), padding, dimension_numbers=NHWC, precision=precision)
    # The patches' feature axis is ordered (channel, kernel row, kernel column).
    weights = jnp.transpose(rhs, (2, 0, 1, 3)).reshape(in_channels * kernel_h * kernel_w,
                                                      out_channels)
    return jnp.einsum("bhwk,ko->bhwo", patches, weights.astype(patches.dtype),
                      precision=precision, preferred_element_type=preferred_element_type)
