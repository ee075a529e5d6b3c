"""One train step on 8 (fake) CPU devices equals the single-device step on the same batch."""

import functools

import jax
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from ferjax.models import sun
from ferjax.train import distributed, steps
from ferjax.train import state as state_lib


def test_eight_device_step_equals_single_device_step():
    assert jax.device_count() == 8
    model = sun.SunAttention(num_classes=8, dropout_rate=0.5)
    variables = state_lib.init_variables(model, jax.random.key(0), (32, 32, 1))
    rng = np.random.default_rng(0)
    batch = {"image": rng.normal(size=(16, 32, 32, 1)).astype(np.float32),
             "label": rng.integers(0, 8, 16).astype(np.int32),
             "weight": np.ones(16, np.float32)}
    step = functools.partial(steps.train_step, loss_terms={"emotion_ce": {"weight": 1.0}})

    def run(mesh):
        # SGD: Adam would turn float rounding in near-zero gradients into lr-sized steps.
        state = state_lib.create_train_state(model, variables, optax.sgd(0.5))
        state = jax.device_put(state, NamedSharding(mesh, P()))
        sharded = distributed.global_batch(mesh, batch)
        new_state, metrics = jax.jit(step)(state, sharded, jax.random.key(1))
        return jax.device_get(new_state.params), jax.device_get(metrics)

    eight = distributed.data_mesh()
    one = jax.make_mesh((1,), ("data",), axis_types=(jax.sharding.AxisType.Auto,),
                        devices=jax.devices()[:1])
    params8, metrics8 = run(eight)
    params1, metrics1 = run(one)
    np.testing.assert_allclose(metrics8["loss"], metrics1["loss"], rtol=1e-6)
    changed = jax.tree_util.tree_map(lambda a, b: np.abs(a - b).max(), params1,
                                     jax.device_get(variables["params"]))
    assert max(jax.tree_util.tree_leaves(changed)) > 1e-4  # the step did move the weights
    for a, b in zip(jax.tree_util.tree_leaves(params8), jax.tree_util.tree_leaves(params1)):
        np.testing.assert_allclose(a, b, atol=1e-5)
