"""Step dispatch: k steps per call, no host round trip between log points, no recompilation."""

import jax
import numpy as np
import pytest

from ferjax import losses as loss_lib
from ferjax.train import checkpoint, dispatch, loop, writers
from toy import toy_config


def test_stops_fall_on_every_interval_and_the_last_step():
    assert dispatch.next_stop(0, 10, (4, 0, 6)) == 4
    assert dispatch.next_stop(4, 10, (4, 0, 6)) == 6
    assert dispatch.next_stop(8, 10, (4, 0, 6)) == 10
    assert dispatch.next_stop(5, 7, (50, 0, 500)) == 7


def test_calls_are_k_steps_then_single_steps_for_a_remainder():
    assert dispatch.call_sizes(0, 8, 4) == [4, 4]
    assert dispatch.call_sizes(3, 8, 2) == [2, 2, 1]
    assert dispatch.call_sizes(0, 1, 4) == [1]


def test_intervals_that_are_not_multiples_of_steps_per_call_name_the_field():
    config = toy_config()
    config.train.steps_per_call = 4
    config.train.log_every = 6
    with pytest.raises(ValueError, match=r"config.train.log_every=6 must be a multiple of "
                                         r"config.train.steps_per_call=4"):
        dispatch.steps_per_call(config.train)
    config.train.log_every, config.train.checkpoint_every = 4, 10
    with pytest.raises(ValueError, match="checkpoint_every=10"):
        dispatch.steps_per_call(config.train)
    config.train.steps_per_call = 0
    with pytest.raises(ValueError, match="steps_per_call=0"):
        dispatch.steps_per_call(config.train)


def test_metric_buffer_returns_every_step_in_order():
    buffer = dispatch.MetricBuffer()
    buffer.add(4, 1, {"loss": jax.numpy.float32(1.5)})
    buffer.add(5, 2, {"loss": jax.numpy.array([2.0, 3.0])})
    assert buffer.fetch() == [(4, {"loss": 1.5}), (5, {"loss": 2.0}), (6, {"loss": 3.0})]
    assert not buffer


class _Watch:
    """Wraps loop._run_segment: every segment after the first runs under
    jax.transfer_guard("disallow") and counts the compilations that happen inside it."""

    def __init__(self, segment):
        self.segment, self.calls, self.compiles, self.guarded = segment, 0, [], False

    def on_event(self, name, *args, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration" and self.guarded:
            self.compiles.append((self.calls, kwargs.get("fun_name")))

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 1:
            return self.segment(*args, **kwargs)
        self.guarded = True
        try:
            with jax.transfer_guard("disallow"):
                return self.segment(*args, **kwargs)
        finally:
            self.guarded = False


def _final_params(workdir):
    return jax.tree.leaves(checkpoint.restore_variables(workdir)["params"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The toy run with 1 step per call, and with 2 steps per call under the watch."""
    one = tmp_path_factory.mktemp("k1")
    loop.train(toy_config(steps=6), one)
    two = tmp_path_factory.mktemp("k2")
    config = toy_config(steps=6)
    config.train.steps_per_call = 2
    watch = _Watch(loop._run_segment)
    listener = watch.on_event
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(loop, "_run_segment", watch)
            loop.train(config, two)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    return one, two, watch


def test_steps_between_log_points_make_no_implicit_transfer_and_compile_nothing(runs):
    _, _, watch = runs
    # Segments [0, 2), [2, 4), [4, 6): the last two ran under the guard, compiling nothing.
    assert watch.calls == 3
    assert watch.compiles == []


def test_two_steps_per_call_give_the_params_and_metrics_of_one(runs):
    one, two, _ = runs
    for a, b in zip(_final_params(one), _final_params(two), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6)
    lines = {w: [l for l in writers.read_metrics(w) if l["split"] == "train"] for w in (one, two)}
    assert [l["step"] for l in lines[two]] == [2, 4, 6]
    for la, lb in zip(lines[one], lines[two]):
        assert lb["loss"] == pytest.approx(la["loss"], rel=1e-5)
        assert lb["images_per_s"] > 0


def test_nan_inside_a_multi_step_call_names_its_exact_step(tmp_path, monkeypatch):
    def poisoned(outputs, batch):
        ce = loss_lib.get("emotion_ce")(outputs, batch)
        return jax.numpy.where(batch["step"] >= 5, jax.numpy.nan, ce)

    monkeypatch.setitem(loss_lib._REGISTRY, "poisoned", "test_dispatch:poisoned_loss")
    globals()["poisoned_loss"] = poisoned
    config = toy_config(steps=8)
    config.train.steps_per_call = 2
    config.losses = {"poisoned": {"weight": 1.0}}
    # Step index 5 is the second of the call covering steps 5 and 6 (1-based).
    with pytest.raises(loop.NonFiniteLossError, match="step 6") as err:
        loop.train(config, tmp_path)
    assert "last good checkpoint (step 4)" in str(err.value)
    assert checkpoint.make_manager(tmp_path, 2).all_steps() == [2, 4]
