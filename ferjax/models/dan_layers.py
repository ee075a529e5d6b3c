"""Connection layers of the Deep Alignment Network (DAN), as pure batched JAX functions.

Between two DAN stages the current shape estimate S_{t-1} is used to (1) estimate the similarity
transform T_t that maps it onto the mean (canonical) shape, (2) warp the image with T_t,
(3) draw a heatmap of the transformed landmarks T_t(S_{t-1}), and (4) upscale a feature image
produced from the previous stage's fc1. The next stage regresses a delta ΔS_t in the canonical
frame and the new estimate is S_t = T_t⁻¹(T_t(S_{t-1}) + ΔS_t).

Conventions (all functions):
  * points are (x, y) pixel coordinates, pixel (row i, column j) has its centre at (x=j, y=i);
  * transforms use row vectors, x' = x·A + t, with A (B, 2, 2) and t (B, 2);
  * images are NHWC float arrays.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def estimate_similarity_transform(src: jnp.ndarray, dst: jnp.ndarray):
    """Least-squares similarity transform mapping `src` points onto `dst` points.

    Minimises Σ_i |src_i·A + t − dst_i|² over A = [[a, b], [−b, a]] (rotation and isotropic
    scale) and translation t, the closed form DAN uses.

    Args:
      src: (B, N, 2) points, e.g. the current shape estimates.
      dst: (N, 2) or (B, N, 2) points, e.g. the mean shape.
    Returns:
      A (B, 2, 2) and t (B, 2), such that src·A + t ≈ dst; float32 whatever the inputs'
      dtype (geometry in pixels needs more than bfloat16's 8-bit mantissa).
    """
    src, dst = _geometry(src), _geometry(dst)
    dst = jnp.broadcast_to(dst, src.shape)
    src_mean = jnp.mean(src, axis=1, keepdims=True)
    dst_mean = jnp.mean(dst, axis=1, keepdims=True)
    s = src - src_mean
    d = dst - dst_mean
    norm = jnp.sum(s * s, axis=(1, 2))
    a = jnp.sum(s * d, axis=(1, 2)) / norm
    b = jnp.sum(s[..., 0] * d[..., 1] - s[..., 1] * d[..., 0], axis=1) / norm
    A = jnp.stack([jnp.stack([a, b], -1), jnp.stack([-b, a], -1)], axis=-2)
    t = dst_mean[:, 0] - jnp.einsum("bi,bij->bj", src_mean[:, 0], A)
    return A, t


def apply_transform(points: jnp.ndarray, A: jnp.ndarray, t: jnp.ndarray) -> jnp.ndarray:
    """points (B, N, 2) -> points·A + t, (B, N, 2)."""
    return jnp.einsum("bni,bij->bnj", points, A) + t[:, None, :]


def _geometry(x: jnp.ndarray) -> jnp.ndarray:
    # Coordinates and transforms stay float32 under bfloat16 compute: a 224-pixel coordinate
    # in bfloat16 is off by up to half a pixel, and XLA's 2×2 inverse is float32-only.
    return jnp.asarray(x, jnp.promote_types(x.dtype, jnp.float32))


def invert_transform(A: jnp.ndarray, t: jnp.ndarray):
    """Inverse of x' = x·A + t: returns (A⁻¹, −t·A⁻¹), shapes (B, 2, 2) and (B, 2)."""
    A, t = _geometry(A), _geometry(t)
    A_inv = jnp.linalg.inv(A)
    return A_inv, -jnp.einsum("bi,bij->bj", t, A_inv)


def _bilinear_sample(image: jnp.ndarray, x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    # image (H, W, C); x, y (H', W') sample positions in pixels. Outside the image is 0 and is
    # interpolated with the border pixels (scipy's "grid-constant"), as a zero-padded image.
    coords = jnp.stack([y, x])
    sample = lambda channel: jax.scipy.ndimage.map_coordinates(  # noqa: E731
        channel, coords, order=1, mode="constant", cval=0.0)
    return jax.vmap(sample, in_axes=-1, out_axes=-1)(image)


def warp_image(images: jnp.ndarray, A: jnp.ndarray, t: jnp.ndarray,
               output_shape: tuple[int, int] | None = None) -> jnp.ndarray:
    """Applies x' = x·A + t to images: output pixel p samples the input at (p − t)·A⁻¹.

    Args:
      images: (B, H, W, C) float.
      A, t: (B, 2, 2), (B, 2) transforms from input pixel coordinates to output ones.
      output_shape: (H', W'); defaults to (H, W).
    Returns:
      (B, H', W', C) bilinear samples of the zero-padded input.
    """
    out_h, out_w = output_shape or images.shape[1:3]
    ys, xs = jnp.meshgrid(jnp.arange(out_h, dtype=jnp.float32),
                          jnp.arange(out_w, dtype=jnp.float32), indexing="ij")
    grid = jnp.stack([xs, ys], axis=-1).reshape(1, -1, 2)
    A_inv, t_inv = invert_transform(A, t)
    source = apply_transform(jnp.broadcast_to(grid, (images.shape[0],) + grid.shape[1:]),
                             A_inv, t_inv).reshape(images.shape[0], out_h, out_w, 2)
    return jax.vmap(_bilinear_sample)(images, source[..., 0], source[..., 1]).astype(images.dtype)


HEATMAP_ANCHORS = ("code", "round")
UPSCALE_METHODS = ("nearest", "bilinear")


def landmark_heatmap(landmarks: jnp.ndarray, image_shape: tuple[int, int],
                     patch_size: int = 16, anchor: str = "code") -> jnp.ndarray:
    """DAN landmark heatmap H(p) = max_i 1 / (1 + |p − s_i|), drawn in a local patch.

    Each landmark contributes only to the patch_size × patch_size pixels at offsets
    −patch_size/2 .. patch_size/2 − 1 from its anchor pixel; elsewhere H = 0. The scatter-max
    costs O(B·N·patch²) instead of the O(B·N·H·W) of a dense evaluation.

    anchor "code" is DAN's TensorFlow code: each point is first clamped to
    [patch/2, side − 1 − patch/2] on each axis (so its whole patch lies inside the image, and a
    point near or beyond the border is drawn at the clamped position), then the anchor is the
    truncated (integer part of the) clamped point and distances are taken from the clamped point.
    anchor "round" anchors the unclamped point's patch at its rounded position and drops the
    pixels that fall outside the image.

    Args:
      landmarks: (B, N, 2) (x, y) pixels.
      image_shape: (H, W).
      patch_size: side of the local patch, pixels (even).
      anchor: "code" | "round".
    Returns:
      (B, H, W, 1) heatmap in [0, 1].
    """
    if anchor not in HEATMAP_ANCHORS:
        raise ValueError(f"config.model.heatmap_anchor={anchor!r}; choose one of "
                         f"{list(HEATMAP_ANCHORS)}")
    height, width = image_shape
    half = patch_size // 2
    offsets = jnp.arange(-half, patch_size - half)
    off_x, off_y = jnp.meshgrid(offsets, offsets, indexing="xy")
    offsets = jnp.stack([off_x.ravel(), off_y.ravel()], -1)  # (P, 2)
    out_dtype, landmarks = landmarks.dtype, _geometry(landmarks)
    upper = jnp.asarray([width - 1 - half, height - 1 - half], landmarks.dtype)

    def one(points):
        if anchor == "code":
            points = jnp.clip(points, half, upper)
            centres = jnp.floor(points).astype(jnp.int32)  # truncation: points are ≥ 0 here
        else:
            centres = jnp.round(points).astype(jnp.int32)
        pixels = centres[:, None, :] + offsets[None]  # (N, P, 2)
        squared = jnp.sum(jnp.square(points[:, None, :] - pixels.astype(points.dtype)), -1)
        # |p − s| with gradient 0 where a landmark sits exactly on a pixel: the norm's own
        # gradient there is 0/0, which made every trained-together stage's step non-finite.
        positive = squared > 0
        distance = jnp.where(positive, jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)
        values = 1.0 / (1.0 + distance)
        # Out-of-image pixels are moved out of range on both axes and dropped by the scatter.
        inside = ((pixels[..., 0] >= 0) & (pixels[..., 0] < width)
                  & (pixels[..., 1] >= 0) & (pixels[..., 1] < height))
        rows = jnp.where(inside, pixels[..., 1], height)
        cols = jnp.where(inside, pixels[..., 0], width)
        heat = jnp.zeros((height, width), points.dtype)
        return heat.at[rows.ravel(), cols.ravel()].max(values.ravel(), mode="drop")

    return jax.vmap(one)(landmarks)[..., None].astype(out_dtype)


def upscale_feature_image(features: jnp.ndarray, output_shape: tuple[int, int],
                          method: str = "nearest") -> jnp.ndarray:
    """Feature image (B, h, w) from a dense layer -> (B, H, W, 1).

    method "nearest" repeats each value over its (H/h)×(W/w) block, as DAN's code
    (`tf.image.resize_images(..., method=1)`); "bilinear" interpolates (half-pixel centres).
    """
    if method not in UPSCALE_METHODS:
        raise ValueError(f"config.model.feature_upscale={method!r}; choose one of "
                         f"{list(UPSCALE_METHODS)}")
    batch = features.shape[0]
    return jax.image.resize(features, (batch,) + tuple(output_shape), method)[..., None]


def next_shape(previous: jnp.ndarray, delta: jnp.ndarray, A: jnp.ndarray,
               t: jnp.ndarray) -> jnp.ndarray:
    """S_t = T⁻¹(T(S_{t−1}) + ΔS_t): the delta is regressed in the canonical frame of T.

    Args:
      previous: (B, N, 2) S_{t−1} in image pixels.
      delta: (B, N, 2) ΔS_t in canonical-frame pixels.
      A, t: the transform T_t (B, 2, 2), (B, 2).
    Returns:
      (B, N, 2) S_t in image pixels.
    """
    A_inv, t_inv = invert_transform(A, t)
    return apply_transform(apply_transform(previous, A, t) + delta, A_inv, t_inv)
