"""Isotropic-diffusion illumination normalisation."""

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg

from ferjax.preprocess import illumination


def neumann_laplacian(n):
    """1-D path-graph Laplacian (reflecting ends), sparse (n, n)."""
    main = np.full(n, 2.0)
    main[[0, -1]] = 1.0
    return scipy.sparse.diags([main, -np.ones(n - 1), -np.ones(n - 1)], [0, -1, 1])


def test_dct_solve_equals_sparse_solve():
    height, width, lam = 7, 9, 3.5
    image = np.random.default_rng(0).uniform(0, 255, (height, width))
    laplacian = (scipy.sparse.kron(neumann_laplacian(height), scipy.sparse.identity(width))
                 + scipy.sparse.kron(scipy.sparse.identity(height), neumann_laplacian(width)))
    system = scipy.sparse.identity(height * width) + lam * laplacian
    want = scipy.sparse.linalg.spsolve(system.tocsc(), image.ravel()).reshape(height, width)
    np.testing.assert_allclose(illumination.diffuse(image, lam), want, rtol=1e-10, atol=1e-9)


def shaded_face_like(gain=1.0):
    y, x = np.mgrid[0:64, 0:80]
    pattern = 0.6 + 0.4 * ((x // 4 + y // 4) % 2)  # the "reflectance"
    shading = 0.15 + 0.85 * x / 79.0               # light falling off to one side
    return gain * 200.0 * pattern * shading, pattern


def test_output_range_and_dtype():
    image, _ = shaded_face_like()
    out = illumination.isotropic_diffusion_normalise(image.astype(np.uint8), length=3.0)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert out.min() == 0 and out.max() == 255


def test_invariant_to_global_gain():
    image, _ = shaded_face_like()
    a = illumination.isotropic_diffusion_normalise(image, length=3.0)
    b = illumination.isotropic_diffusion_normalise(image * 3.7, length=3.0)
    np.testing.assert_array_equal(a, b)


def test_removes_smooth_shading():
    image, pattern = shaded_face_like()
    out = illumination.isotropic_diffusion_normalise(image, length=3.0).astype(float)
    # Interior columns (away from the reflecting border), dark vs bright side of the ramp:
    # the input's checker contrast differs ~2.6x across the ramp, the output's is nearly equal.
    def contrast(img, cols):
        block, pat = img[8:56, cols], pattern[8:56, cols]
        return block[pat > 0.8].mean() - block[pat < 0.8].mean()
    dark, bright = slice(8, 24), slice(56, 72)
    assert contrast(image, bright) / contrast(image, dark) > 2.0
    assert 0.8 < contrast(out, bright) / contrast(out, dark) < 1.25


def test_channels_and_constant_input():
    image = np.full((16, 16, 3), 77, np.uint8)
    out = illumination.isotropic_diffusion_normalise(image, length=2.0)
    assert out.shape == (16, 16, 3)
    np.testing.assert_array_equal(out, 128)


def test_bad_input():
    with pytest.raises(ValueError, match="non-negative"):
        illumination.isotropic_diffusion_normalise(np.full((8, 8), -1.0), length=2.0)
    with pytest.raises(ValueError, match="length > 0"):
        illumination.isotropic_diffusion_normalise(np.ones((8, 8)), length=0.0)
