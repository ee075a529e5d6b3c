"""Illumination normalisation by isotropic diffusion (Gross & Brajovic 2003), as Sun et al. 2018
apply it to RaFD intensity images.

Model: image I = R * L with L a smooth luminance. L minimises
    sum (L - I)^2 + lam * sum |grad L|^2,
whose normal equations are (Id + lam * K) L = I with K the 5-point graph Laplacian of the pixel
grid with reflecting (Neumann) borders; the output is the reflectance R = I / L.

That sparse system is solved exactly in the DCT-II domain, where K is diagonal with eigenvalues
(2 - 2 cos(pi k / H)) + (2 - 2 cos(pi l / W)): O(HW log HW) and no iteration count to tune (the
tests check it against `scipy.sparse.linalg.spsolve` of the assembled matrix).

R has no fixed range, so it is mapped to uint8 by a percentile stretch. Since L scales with I,
R and hence the output are invariant to a global gain on the input.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

# Default smoothing length of the luminance estimate, as a fraction of the image's shorter side
# (5 px at 125×160): the paper gives none.
DEFAULT_LENGTH_FRACTION = 0.04


def neumann_laplacian_eigenvalues(height: int, width: int) -> np.ndarray:
    """Eigenvalues (H, W) of the 5-point grid Laplacian with reflecting borders in the DCT-II
    basis."""
    ky = 2.0 - 2.0 * np.cos(np.pi * np.arange(height) / height)
    kx = 2.0 - 2.0 * np.cos(np.pi * np.arange(width) / width)
    return ky[:, None] + kx[None, :]


def diffuse(image: np.ndarray, lam: float) -> np.ndarray:
    """Luminance L (H, W) solving (Id + lam * K) L = I for one float channel I (H, W)."""
    coefficients = scipy.fft.dctn(image, type=2, norm="ortho")
    coefficients /= 1.0 + lam * neumann_laplacian_eigenvalues(*image.shape)
    return scipy.fft.idctn(coefficients, type=2, norm="ortho")


def reflectance(image: np.ndarray, lam: float) -> np.ndarray:
    """R = I / L (H, W) for one channel; L is floored at 1e-3 of the mean intensity (a floor
    that scales with I, so R stays gain invariant) to keep dark regions finite."""
    image = np.asarray(image, np.float64)
    luminance = diffuse(image, lam)
    floor = 1e-3 * max(float(image.mean()), np.finfo(np.float64).tiny)
    return image / np.maximum(luminance, floor)


def stretch_to_uint8(values: np.ndarray, clip_percent: float) -> np.ndarray:
    """Map the [p, 100 - p] percentile range of values linearly onto [0, 255] (clipping
    outside); a constant input maps to 128."""
    low, high = np.percentile(values, (clip_percent, 100.0 - clip_percent))
    if not high - low > 1e-12 * max(abs(high), 1.0):
        return np.full(values.shape, 128, np.uint8)
    scaled = (values - low) / (high - low)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def isotropic_diffusion_normalise(image: np.ndarray, length: float,
                                  clip_percent: float = 1.0) -> np.ndarray:
    """Illumination-normalise an image channel by channel.

    Args:
      image: (H, W) or (H, W, C), uint8 or float, non-negative intensities.
      length: smoothing length of the luminance estimate in pixels; lam = length ** 2.
      clip_percent: percent of darkest and brightest reflectance values saturated by the stretch.
    Returns:
      uint8 array of the input's shape.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 2:
        raise ValueError(f"illumination normalisation expects (H, W) or (H, W, C) with H, W >= 2,"
                         f" got shape {image.shape}")
    if not np.isfinite(image).all() or (image < 0).any():
        raise ValueError("illumination normalisation expects finite non-negative intensities")
    if not length > 0 or not 0.0 <= clip_percent < 50.0:
        raise ValueError(f"need length > 0 and 0 <= clip_percent < 50, got {length}, "
                         f"{clip_percent}")
    channels = image[..., None] if image.ndim == 2 else image
    out = np.stack([stretch_to_uint8(reflectance(channels[..., c], length ** 2), clip_percent)
                    for c in range(channels.shape[2])], axis=-1)
    return out.reshape(image.shape)
