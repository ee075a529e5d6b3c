"""Host-local sections: process 0's work after training, which the other processes wait for.

In one process the section only marks where collectives are forbidden: a collective called
there fails at once, naming itself and the section (in a multi-process run it would wait for
processes that never join it). The restore evaluators use is collective-free."""

import pytest
from toy import toy_config

from ferjax.runs import evaluators
from ferjax.train import checkpoint, host_local, loop


def test_run_on_main_returns_the_result_and_forbids_collectives_inside():
    assert not host_local.active()
    host_local.check_collective_allowed("a barrier")  # outside: allowed

    def body():
        assert host_local.active()
        with pytest.raises(host_local.CollectiveInHostLocalError,
                           match="a barrier is a collective over all processes, called inside "
                                 "the host-local section 'figures'"):
            host_local.check_collective_allowed("a barrier")
        return 7

    assert host_local.run_on_main("figures", body) == 7
    assert not host_local.active()


def test_a_failure_inside_leaves_the_section(tmp_path):
    with pytest.raises(ZeroDivisionError):
        host_local.run_on_main("summary", lambda: 1 / 0)
    assert not host_local.active()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    config = toy_config(steps=2)
    return loop.train(config, workdir)


def test_evaluators_restore_inside_the_section_but_cannot_open_a_manager(trained, monkeypatch):
    # restore_variables reads without orbax's multi-process barriers: allowed.
    got = host_local.run_on_main("restore", lambda: checkpoint.restore_variables(
        trained.workdir))
    assert set(got) == {"params", "batch_stats"}
    assert checkpoint.latest_finished_step(trained.workdir / "checkpoints") == 2

    def opens_a_manager(target, out_dir):
        checkpoint.make_manager(target.workdir, 1)

    monkeypatch.setattr(evaluators, "get", lambda kind: opens_a_manager)
    with pytest.raises(host_local.CollectiveInHostLocalError, match="creating a "
                       "CheckpointManager .* inside the host-local section 'evaluators in"):
        evaluators.run_all(trained.config, trained, trained.workdir)
