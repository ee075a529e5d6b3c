"""Stage-wise training helpers: parameter masks, phases and the triangular cyclical LR."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ferjax.train import stagewise


def _params():
    return {"stage_1": {"fc1": {"kernel": jnp.ones((2, 2))}, "fc2": {"bias": jnp.ones(2)}},
            "stage_2": {"fc1": {"kernel": jnp.ones((2, 2))}},
            "stage_3": {"fc1": {"kernel": jnp.ones((3,))}}}


def test_triangular_cyclical_lr_matches_the_closed_form():
    schedule = stagewise.triangular_cyclical_lr(1e-4, 0.05, 10_000)
    steps = np.array([0, 5_000, 10_000, 15_000, 20_000, 30_000, 40_000])
    expected = [1e-4, 0.02505, 0.05, 0.02505, 1e-4, 0.05, 1e-4]
    np.testing.assert_allclose([float(schedule(s)) for s in steps], expected, rtol=1e-5)
    # The reference formula of the authors' code, evaluated step by step.
    g = np.arange(0, 45_000, 997)
    reference = 1e-4 + (0.05 - 1e-4) * np.maximum(
        0, 1 - np.abs(g / 10_000 - 2 * np.floor(1 + g / 20_000) + 1))
    np.testing.assert_allclose(jax.vmap(schedule)(g), reference, rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="base_lr"):
        stagewise.triangular_cyclical_lr(0.1, 0.01, 10)
    with pytest.raises(ValueError, match="half_cycle"):
        stagewise.triangular_cyclical_lr(0.01, 0.1, 0)


def test_stage_optimizer_updates_only_the_training_stage():
    params = _params()
    grads = jax.tree.map(jnp.ones_like, params)
    optimizer = stagewise.stage_optimizer(params, optax.sgd(0.5), stage=2)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    assert float(jnp.abs(updates["stage_2"]["fc1"]["kernel"] + 0.5).max()) == 0.0
    for key in ("stage_1", "stage_3"):
        assert all(float(jnp.abs(u).max()) == 0.0 for u in jax.tree.leaves(updates[key]))
    # Fine-tuning: every stage up to the current one trains.
    optimizer = stagewise.stage_optimizer(params, optax.sgd(0.5), stage=2, fine_tune_all=True)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    assert all(float(u.min()) == -0.5 for u in jax.tree.leaves(updates["stage_1"]))
    assert float(jnp.abs(updates["stage_3"]["fc1"]["kernel"]).max()) == 0.0


def test_phases_set_model_overrides_and_optimizers():
    stage_1 = stagewise.StagePhase(1, 10, "adam", {"landmark_nme": {"weight": 1.0}})
    stage_2 = stagewise.StagePhase(2, 10, "sgd_clr", {"landmark_nme": {"weight": 0.4}})
    tune = stagewise.StagePhase(2, 10, "sgd_clr", {}, fine_tune_all=True)
    assert stage_1.model_overrides() == {"active_stages": 1, "frozen_stages": 0}
    assert stage_2.model_overrides() == {"active_stages": 2, "frozen_stages": 1}
    assert tune.model_overrides() == {"active_stages": 2, "frozen_stages": 0}
    params = _params()
    optimizer = stagewise.phase_optimizer(stage_2, params, clr_half_cycle=4)
    updates, _ = optimizer.update(jax.tree.map(jnp.ones_like, params), optimizer.init(params))
    np.testing.assert_allclose(updates["stage_2"]["fc1"]["kernel"], -1e-4)  # lr at step 0
    with pytest.raises(ValueError, match="rmsprop"):
        stagewise.phase_optimizer(stagewise.StagePhase(1, 1, "rmsprop", {}), params)
    with pytest.raises(ValueError, match="'head'"):
        stagewise.stage_labels({"head": {}}, lambda s: True)
