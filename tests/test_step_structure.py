"""Structural properties of the expensive steps: no (H·W)²-sized intermediate in Jalal's
network at 224×224, and FERAtt's convolutions on maps smaller than the kernel computed as a
patch product equal to the convolution."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from ferjax.models.feratt import FERAtt
from ferjax.models.jalal import JalalSelfAttentionNet
from ferjax.models.small_map_conv import small_map_conv, uses_patch_product


def _equations(jaxpr):
    for eqn in jaxpr.eqns:
        yield eqn
        for sub in jax.core.jaxprs_in_params(eqn.params):
            yield from _equations(sub)


def _largest_intermediate(fn, *args) -> int:
    closed = jax.make_jaxpr(fn)(*args)
    return max(int(np.prod(var.aval.shape)) for eqn in _equations(closed.jaxpr)
               for var in eqn.outvars if hasattr(var.aval, "shape"))


def test_jalal_224_train_step_has_no_pixel_squared_intermediate():
    model = JalalSelfAttentionNet(num_classes=8)
    images = jnp.zeros((1, 224, 224, 3))
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), images))

    def loss(params, batch_stats):
        out, _ = model.apply({"params": params, "batch_stats": batch_stats}, images, train=True,
                             rngs={"dropout": jax.random.key(1)}, mutable=["batch_stats"])
        return jnp.sum(out["logits"]) + jnp.sum(out["self_attention"])

    params = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), variables["params"])
    stats = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), variables["batch_stats"])
    largest = _largest_intermediate(jax.grad(loss), params, stats)
    # The widest full-resolution activation (c2's first conv, 224²·96) bounds every array; the
    # attention block sees 28² = 784 positions, so its weights are 784² = 614,656 per image.
    assert largest == 224 * 224 * 96
    out = jax.eval_shape(lambda v: model.apply(v, images), variables)
    assert out["self_attention"].shape == (1, 784, 784)


@pytest.mark.parametrize("size,padding", [(2, 1), (1, 1), (2, "SAME")])
def test_small_map_conv_equals_the_convolution(size, padding):
    x = jax.random.normal(jax.random.key(0), (3, size, size, 5))
    plain = nn.Conv(7, (3, 3), padding=padding)
    patched = nn.Conv(7, (3, 3), padding=padding, conv_general_dilated=small_map_conv)
    variables = plain.init(jax.random.key(1), x)
    np.testing.assert_allclose(patched.apply(variables, x), plain.apply(variables, x),
                               rtol=1e-5, atol=1e-5)
    grad = lambda m: jax.grad(lambda v: jnp.sum(m.apply(v, x) ** 2))(variables)
    np.testing.assert_allclose(grad(patched)["params"]["kernel"],
                               grad(plain)["params"]["kernel"], rtol=1e-4, atol=1e-4)


def test_patch_product_only_below_the_kernel_size():
    dn = lax.conv_dimension_numbers((1, 2, 2, 4), (3, 3, 4, 8), ("NHWC", "HWIO", "NHWC"))
    assert uses_patch_product((1, 2, 2, 4), (3, 3, 4, 8), (1, 1), dimension_numbers=dn)
    assert not uses_patch_product((1, 3, 3, 4), (3, 3, 4, 8), (1, 1), dimension_numbers=dn)
    assert not uses_patch_product((1, 2, 2, 4), (3, 3, 4, 8), (2, 2), dimension_numbers=dn)
    assert not uses_patch_product((1, 2, 2, 4), (3, 3, 4, 8), (1, 1), rhs_dilation=(2, 2),
                                  dimension_numbers=dn)
    assert not uses_patch_product((1, 2, 2, 4), (3, 3, 4, 8), (1, 1), feature_group_count=2,
                                  dimension_numbers=dn)


def test_small_map_conv_passes_every_argument_through():
    # Either path must be lax.conv_general_dilated with the same arguments and result.
    dn = ("NHWC", "HWIO", "NHWC")
    x = jax.random.normal(jax.random.key(0), (2, 6, 6, 3))
    w = jax.random.normal(jax.random.key(1), (3, 3, 3, 4))
    for kwargs in ({"rhs_dilation": (2, 2)}, {"lhs_dilation": (2, 2)}):
        pad = ((1, 1), (1, 1))
        np.testing.assert_allclose(
            small_map_conv(x, w, (1, 1), pad, dimension_numbers=dn, **kwargs),
            lax.conv_general_dilated(x, w, (1, 1), pad, dimension_numbers=dn, **kwargs),
            rtol=1e-5, atol=1e-5)
    for size in (6, 2):          # the plain path and the patch product
        lhs = x[:, :size, :size].astype(jnp.bfloat16)
        out = small_map_conv(lhs, w.astype(jnp.bfloat16), (1, 1), "SAME", dimension_numbers=dn,
                             preferred_element_type=jnp.float32)
        assert out.dtype == jnp.float32
        same = small_map_conv(lhs, w.astype(jnp.bfloat16), (1, 1), "SAME", dimension_numbers=dn)
        assert same.dtype == jnp.bfloat16
    # Dilations and groups on a map below the kernel size go to the plain convolution.
    small = x[:, :2, :2]
    for kwargs, w_ in (({"rhs_dilation": (2, 2)}, w), ({"lhs_dilation": (2, 2)}, w),
                       ({"feature_group_count": 3}, w[:, :, :1, :3])):
        pad = ((1, 1), (1, 1))
        np.testing.assert_allclose(
            small_map_conv(small, w_, (1, 1), pad, dimension_numbers=dn, **kwargs),
            lax.conv_general_dilated(small, w_, (1, 1), pad, dimension_numbers=dn, **kwargs),
            rtol=1e-5, atol=1e-5)
    grouped = x[..., :3]
    np.testing.assert_allclose(
        small_map_conv(grouped, w[:, :, :1, :3], (1, 1), "SAME", dimension_numbers=dn,
                       feature_group_count=3),
        lax.conv_general_dilated(grouped, w[:, :, :1, :3], (1, 1), "SAME", dimension_numbers=dn,
                                 feature_group_count=3), rtol=1e-5, atol=1e-5)
    shapes = lax.conv_dimension_numbers((1, 2, 2, 4), (3, 3, 4, 8), dn)
    assert not uses_patch_product((1, 2, 2, 4), (3, 3, 4, 8), (1, 1), lhs_dilation=(2, 2),
                                  dimension_numbers=shapes)
    assert not uses_patch_product((1, 2, 2, 4), (3, 3, 4, 8), (1, 1))   # no layout given
    nchw = lax.conv_dimension_numbers((1, 4, 2, 2), (8, 4, 3, 3), ("NCHW", "OIHW", "NCHW"))
    assert not uses_patch_product((1, 4, 2, 2), (8, 4, 3, 3), (1, 1), dimension_numbers=nchw)
    # A map below the kernel in one dimension only stays a convolution.
    dn_shapes = lax.conv_dimension_numbers((1, 2, 5, 4), (3, 3, 4, 8), dn)
    assert not uses_patch_product((1, 2, 5, 4), (3, 3, 4, 8), (1, 1), dimension_numbers=dn_shapes)
    assert not uses_patch_product((1, 5, 2, 4), (3, 3, 4, 8), (1, 1), dimension_numbers=dn_shapes)
    # The kernel's width, not its input channels, bounds the map (3 wide: a convolution).
    assert not uses_patch_product((1, 2, 3, 4), (3, 3, 4, 8), (1, 1), dimension_numbers=dn_shapes)


def test_small_map_conv_passes_the_requested_precision_to_every_operation():
    # Invisible in float32 on a CPU, but on a GPU/TPU it selects the matmul precision.
    dn = ("NHWC", "HWIO", "NHWC")
    w = jnp.ones((3, 3, 2, 4))
    for size in (6, 2):          # the plain path; the patches and their product
        x = jnp.ones((1, size, size, 2))
        jaxpr = str(jax.make_jaxpr(lambda a, b: small_map_conv(
            a, b, (1, 1), "SAME", dimension_numbers=dn, precision=lax.Precision.HIGHEST))(x, w))
        ops = jaxpr.count("conv_general_dilated[") + jaxpr.count("dot_general[")
        assert ops == (1 if size == 6 else 2), jaxpr
        assert jaxpr.count("precision=(Precision.HIGHEST") == ops, jaxpr


def test_feratt_at_64_runs_its_2x2_maps_as_patch_products():
    model = FERAtt(num_classes=3, encoder_widths=(4, 4, 4, 8), encoder_blocks=(1, 1, 1, 1),
                   decoder_filters=2, rep_width=4)
    images = jnp.zeros((1, 64, 64, 3))
    closed = jax.make_jaxpr(lambda: model.init(jax.random.key(0), images))()
    patch_ops = [e for e in _equations(closed.jaxpr)
                 if e.primitive.name == "conv_general_dilated"
                 and e.params["rhs_dilation"] == (1, 1)
                 and e.invars[1].aval.shape[:2] == (3, 3) and e.invars[0].aval.shape[1] == 2]
    # A 3×3 convolution on a 2×2 map appears only as the identity-kernel patch extraction
    # (input channels · 9 outputs), never with the learned kernel's output width.
    assert patch_ops
    assert all(e.invars[1].aval.shape[3] == e.invars[1].aval.shape[2] * 9
               or e.invars[1].aval.shape[2] == 1 for e in patch_ops)
