"""One job per workdir: a second holder is refused naming the first, a dead holder's lock is
taken over, a failed start leaves no trace; through launch.py, a second launcher is refused
while the first trains, and after kill -9 of the first a rerun resumes."""

import json
import os
import signal
import textwrap

import processes
import pytest

from ferjax.train import workdir_lock


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    with workdir_lock.hold(tmp_path) as record:
        lock = tmp_path / workdir_lock.LOCK_FILE
        assert json.loads(lock.read_text()) == record
        assert record["pid"] == os.getpid()
        with pytest.raises(workdir_lock.WorkdirLockedError) as refused:
            with workdir_lock.hold(tmp_path):
                pass
        message = str(refused.value)
        assert f"pid {os.getpid()} on host {record['host']}" in message
        assert record["started"] in message and "another --workdir" in message
    assert not lock.exists()  # released and removed at the end
    with workdir_lock.hold(tmp_path):  # free again
        pass


def test_a_dead_holders_lock_is_taken_over_with_one_line(tmp_path):
    stale = {"host": "node7", "pid": 999999, "started": "2026-01-01T00:00:00+00:00", "job": "42"}
    (tmp_path / workdir_lock.LOCK_FILE).write_text(json.dumps(stale))  # no process holds it
    lines = []
    with workdir_lock.hold(tmp_path, report=lines.append) as record:
        assert record["pid"] == os.getpid()
    assert lines == [f"took over {tmp_path / workdir_lock.LOCK_FILE} from pid 999999 on host "
                     "node7 (started 2026-01-01T00:00:00+00:00, job 42), which is gone"]


def test_a_failed_start_in_a_new_workdir_leaves_nothing(tmp_path):
    workdir = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError, match="failed start"):
        with workdir_lock.hold(workdir):
            raise RuntimeError("failed start")
    assert not workdir.exists()
    (tmp_path / "kept").mkdir()
    with workdir_lock.hold(tmp_path / "kept"):
        (tmp_path / "kept" / "config.json").write_text("{}")
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["config.json"]


def test_second_launcher_refused_while_the_first_trains_then_resume_after_kill(tmp_path):
    config_file = tmp_path / "long.py"
    config_file.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(processes.REPO / 'tests')!r})
        from toy import toy_config

        def get_config(arg=None):
            config = toy_config(steps=5000, batch=8)
            config.train.log_every = 1
            return config
    """))
    workdir = tmp_path / "run"
    first = processes.Run(config_file, workdir)
    first.wait_for_step(3)
    second = processes.Run(config_file, workdir)
    assert second.finish() == [1], second.outputs()
    errors = [l for l in second.output().splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and "is in use by another job" in errors[0], second.outputs()
    assert f"pid {first.procs[0].pid} on host" in errors[0]
    assert first.procs[0].poll() is None, "the first launcher must go on training"
    first.wait_for(lambda: any(p.name.isdigit() for p in (workdir / "checkpoints").iterdir()))
    first.procs[0].send_signal(signal.SIGKILL)
    assert first.finish() == [-signal.SIGKILL]

    third = processes.Run(config_file, workdir)
    third.wait_for(lambda: any(l.startswith("resumed from checkpoint at step")
                               for l in third.lines[0]))
    resumed = int([l for l in third.lines[0] if l.startswith("resumed")][0].split()[-1])
    assert resumed >= 2
    third.wait_for_step(resumed + 1)  # training again (its SIGTERM handler is in place)
    assert any(l.startswith(f"took over {workdir / workdir_lock.LOCK_FILE} from pid "
                            f"{first.procs[0].pid}") for l in third.lines[0]), third.outputs()
    third.procs[0].send_signal(signal.SIGTERM)  # preempted: saves and exits 0
    assert third.finish() == [0], third.outputs()
    assert not (workdir / workdir_lock.LOCK_FILE).exists()
