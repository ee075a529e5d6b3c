"""Step dispatch: k steps per call, no host round trip between log points, no recompilation."""

import jax
import numpy as np
import pytest
from toy import toy_config

from ferjax import losses as loss_lib
from ferjax.train import checkpoint, dispatch, loop, writers


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


def _config(placement, steps=6, k=1):
    config = toy_config(steps=steps)
    config.data.placement = placement
    config.train.steps_per_call = k
    return config


def _watched_train(config, workdir):
    watch = _Watch(loop._run_segment)
    listener = watch.on_event
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(loop, "_run_segment", watch)
            loop.train(config, workdir)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    return watch


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Toy runs: host input 1 and 2 steps per call, device-resident input 2 steps per call;
    the 2-step runs under the watch."""
    dirs = {name: tmp_path_factory.mktemp(name) for name in ("host1", "host2", "device2")}
    loop.train(_config("host"), dirs["host1"])
    watches = {"host2": _watched_train(_config("host", k=2), dirs["host2"]),
               "device2": _watched_train(_config("device", k=2), dirs["device2"])}
    return dirs, watches


@pytest.mark.parametrize("run", ["host2", "device2"])
def test_steps_between_log_points_make_no_implicit_transfer_and_compile_nothing(runs, run):
    _, watches = runs
    # Segments [0, 2), [2, 4), [4, 6): the last two ran under the guard, compiling nothing.
    assert watches[run].calls == 3
    assert watches[run].compiles == []


def test_two_steps_per_call_give_the_params_and_metrics_of_one(runs):
    dirs, _ = runs
    one, two = dirs["host1"], dirs["host2"]
    for a, b in zip(_final_params(one), _final_params(two), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6)
    lines = {w: [l for l in writers.read_metrics(w) if l["split"] == "train"] for w in (one, two)}
    assert [l["step"] for l in lines[two]] == [2, 4, 6]
    for la, lb in zip(lines[one], lines[two]):
        assert lb["loss"] == pytest.approx(la["loss"], rel=1e-5)
        assert lb["images_per_s"] > 0


def test_device_input_resumed_mid_epoch_reproduces_the_run_bit_for_bit(runs, tmp_path):
    dirs, _ = runs
    # 64 training examples in batches of 16: an epoch is 4 steps; stop at 2, finish at 6.
    loop.train(_config("device", steps=2, k=2), tmp_path)
    assert checkpoint.make_manager(tmp_path, 2).all_steps() == [2]
    loop.train(_config("device", steps=6, k=2), tmp_path)
    for a, b in zip(_final_params(dirs["device2"]), _final_params(tmp_path), strict=True):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a))
    # The device path really trained: its loss fell like the host path's.
    device = [l["loss"] for l in writers.read_metrics(dirs["device2"]) if l["split"] == "train"]
    assert device[-1] < device[0]


def test_nan_inside_a_multi_step_call_names_its_exact_step(tmp_path, monkeypatch):
    def poisoned(outputs, batch):
        ce = loss_lib.get("emotion_ce")(outputs, batch)
        return jax.numpy.where(batch["step"] >= 5, jax.numpy.nan, ce)

    monkeypatch.setitem(loss_lib._REGISTRY, "poisoned", "test_dispatch:poisoned_loss")
    globals()["poisoned_loss"] = poisoned
    config = _config("host", steps=8, k=2)
    config.losses = {"poisoned": {"weight": 1.0}}
    # Step index 5 is the second of the call covering steps 5 and 6 (1-based).
    with pytest.raises(loop.NonFiniteLossError, match="step 6") as err:
        loop.train(config, tmp_path)
    assert "last good checkpoint (step 4)" in str(err.value)
    assert checkpoint.make_manager(tmp_path, 2).all_steps() == [2, 4]
