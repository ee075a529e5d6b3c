"""Mixed precision: a bfloat16 step tracks the float32 step; the state stays float32."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ferjax.models import build_model
from ferjax.train import precision, steps
from ferjax.train import state as state_lib

SIZE = 32
_MEAN_SHAPE = np.random.default_rng(0).uniform(0.25, 0.75, (68, 2)) * SIZE

# The four papers' model families at tiny sizes, with loss terms their outputs allow.
FAMILIES = {
    "sun": ({"name": "sun_attention", "dropout_rate": 0.0}, (SIZE, SIZE, 1),
            {"emotion_ce": {"weight": 1.0}}),
    # The stage-2 phase of the stage-wise protocol (stage 1 frozen), as configs/emotional_dan.py.
    "emotional_dan": ({"name": "emotional_dan", "base_channels": 2, "fc_units": 8,
                       "active_stages": 2, "frozen_stages": 1},
                      (SIZE, SIZE, 1),
                      {"emotion_ce": {"weight": 0.6}, "landmark_nme": {"weight": 0.4}}),
    "feratt": ({"name": "feratt", "variant": "feratt_rep_cls", "encoder_widths": (4, 8, 8, 8),
                "encoder_blocks": (1, 1, 1, 1), "decoder_filters": 2, "rec_width": 4,
                "rep_width": 4, "num_resblocks": 1, "embedding_dim": 5,
                "classifier_size": 16}, (64, 64, 3), {"emotion_ce": {"weight": 1.0}}),
    "jalal": ({"name": "jalal_self_attention"}, (SIZE, SIZE, 1),
              {"emotion_ce": {"weight": 1.0}}),
}
# bf16 keeps 8 bits of mantissa (relative error 2^-8 ≈ 0.4 % per rounding); a loss near
# log(3) ≈ 1.1 from a tiny network accumulates a few of those (measured: 0.1–0.2 %).
LOSS_RTOL = {"sun": 0.01, "emotional_dan": 0.01, "jalal": 0.01,
             # FERAtt's classifier sees the code's fixed normalize_layer affine of I_att
             # (×0.45, shifted towards 0) and then train-mode BatchNorm over 4 examples of
             # 2×2 maps, which magnifies bf16 rounding: measured 3.7 % (0.2 % without the
             # affine, rec_output_affine=False; 0.02 % in inference mode).
             "feratt": 0.05}


def _batch(image_shape, n=4):
    rng = np.random.default_rng(1)
    return {"image": jnp.asarray(rng.normal(size=(n, *image_shape)), jnp.float32),
            "label": jnp.asarray(rng.integers(0, 3, n), jnp.int32),
            "weight": jnp.ones(n, jnp.float32),
            "landmarks": jnp.asarray(_MEAN_SHAPE + rng.normal(0, 1, (n, 68, 2)), jnp.float32)}


@functools.lru_cache(maxsize=None)
def _steps(family):
    """(state, batch, f32 step result, bf16 step result) for one family, computed once."""
    model_cfg, image_shape, terms = FAMILIES[family]
    model = build_model(model_cfg, {"num_classes": 3, "image_shape": image_shape,
                                    "mean_landmarks": _MEAN_SHAPE})
    variables = state_lib.init_variables(model, jax.random.key(0), image_shape)
    state = state_lib.create_train_state(model, variables, optax.adam(1e-3))
    batch = _batch(image_shape)
    results = {}
    for dtype in (jnp.float32, jnp.bfloat16):
        step = jax.jit(functools.partial(steps.train_step, loss_terms=terms, compute_dtype=dtype))
        results[dtype] = step(state, batch, jax.random.key(2))
    return state, results[jnp.float32], results[jnp.bfloat16]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bfloat16_step_tracks_float32_and_keeps_the_state_float32(family):
    state, (new32, m32), (new16, m16) = _steps(family)
    assert float(m16["finite"]) == 1.0
    assert float(m16["loss"]) == pytest.approx(float(m32["loss"]), rel=LOSS_RTOL[family])
    for name in ("params", "batch_stats", "opt_state"):
        for before, after in zip(jax.tree.leaves(getattr(state, name)),
                                 jax.tree.leaves(getattr(new16, name)), strict=True):
            assert after.dtype == before.dtype, name
    assert m16["loss"].dtype == jnp.float32
    # The update moved the parameters the same way: Adam's first step is ±lr per weight, the
    # gradient's sign; gradients near zero may flip under bf16 rounding (FERAtt: 11 % do).
    delta32 = np.concatenate([np.ravel(a - b) for a, b in zip(
        jax.tree.leaves(new32.params), jax.tree.leaves(state.params))])
    delta16 = np.concatenate([np.ravel(a - b) for a, b in zip(
        jax.tree.leaves(new16.params), jax.tree.leaves(state.params))])
    moved = np.abs(delta32) > 1e-4
    assert np.mean(np.sign(delta16[moved]) == np.sign(delta32[moved])) > 0.8


def test_flax_batchnorm_keeps_float32_running_statistics_for_bfloat16_inputs():
    bn = nn.BatchNorm(use_running_average=False, momentum=0.5)
    x = jnp.asarray(np.random.default_rng(3).normal(2.0, 3.0, (64, 5)), jnp.float32)
    variables = bn.init(jax.random.key(0), x)
    _, updates = bn.apply(variables, x.astype(jnp.bfloat16), mutable=["batch_stats"])
    stats = updates["batch_stats"]
    assert stats["mean"].dtype == jnp.float32 and stats["var"].dtype == jnp.float32
    expected = 0.5 * np.asarray(x, np.float32).mean(0)  # momentum 0.5 from a zero start
    np.testing.assert_allclose(stats["mean"], expected, rtol=1e-2, atol=1e-2)


def test_unknown_compute_dtype_names_the_field_and_choices():
    with pytest.raises(ValueError, match=r"config.train.compute_dtype='float16'.*"
                                         r"\['bfloat16', 'float32'\]"):
        precision.compute_dtype({"compute_dtype": "float16"})
    assert precision.compute_dtype({}) == jnp.float32
