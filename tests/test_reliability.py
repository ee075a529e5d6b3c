"""Resume in damaged or changed workdirs: checkpoint fallback, partial metrics lines, config
comparison, manual_dir source records, the peer watchdog and small error messages.
Damaged checkpoints and kills: tests/faults/."""

import json
import logging
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import real_trees
from toy import toy_config

from ferjax import losses as loss_lib
from ferjax.data import source_record, sources
from ferjax.train import checkpoint, distributed, loop, peers, run_config, writers

# ---------- checkpoints ----------

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("finished")
    return workdir, loop.train_and_evaluate(toy_config(steps=4), workdir)


def test_rerun_of_a_finished_run_logs_one_final_eval_line(finished):
    workdir, straight = finished
    again = loop.train_and_evaluate(toy_config(steps=4), workdir)
    assert again["confusion"] == straight["confusion"]
    evals = [l for l in writers.read_metrics(workdir) if l["split"] == "eval"]
    assert [l["step"] for l in evals] == [4]


def test_restore_reads_arrays_into_the_target_sharding():
    mesh = distributed.data_mesh()
    target = jax.device_put(
        {"w": np.zeros((4, 3), np.float32)}, distributed.replicated(mesh))
    abstract = checkpoint.abstract_state(target)
    assert abstract["w"].sharding == distributed.replicated(mesh)
    assert abstract["w"].shape == (4, 3)


# ---------- metrics.jsonl: a partial last line ----------

def test_partial_last_metrics_line_is_dropped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 2, "split": "train", "loss": 1.5}\n'
                    '{"step": 4, "split": "train", "loss": 1.25}\n{"step": 6, "spl')
    writer = writers.MetricWriter(tmp_path)
    with caplog.at_level(logging.WARNING):
        writer.truncate_after(4)
    writer.close()
    assert "dropped a partial last line" in caplog.text and "metrics.jsonl" in caplog.text
    assert [l["step"] for l in writers.read_metrics(tmp_path)] == [2, 4]
    assert path.read_text().endswith("1.25}\n")


def test_unreadable_line_before_the_last_names_file_and_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 2, "split": "train"}\ngarbage\n'
                                            '{"step": 4, "split": "train"}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl: line 2 is not JSON"):
        writers.read_metrics(tmp_path)


# ---------- config comparison ----------

def test_config_differences_name_each_field():
    old = {"model": {"name": "sun_attention"}, "train": {"log_every": 2, "schedule": {"lr": 1e-3}}}
    new = {"model": {"name": "jalal"}, "train": {"log_every": 5, "schedule": {"lr": 1e-2}},
           "extra": 1}
    assert run_config.differences(old, new) == [
        ("extra", None, 1), ("model.name", "sun_attention", "jalal"),
        ("train.schedule.lr", 1e-3, 1e-2)]  # log_every is neutral
    assert run_config.differences({"s": "<Src object at 0x7f01>"},
                                  {"s": "<Src object at 0x5e22>"}) == []


def test_changed_config_is_refused_unless_allowed_and_then_recorded(tmp_path):
    config = run_config.config_dict(toy_config())
    run_config.check_workdir(tmp_path, config)  # first launch stores it
    assert json.loads((tmp_path / "config.json").read_text()) == config
    assert run_config.check_workdir(tmp_path, config) == []
    changed = run_config.config_dict(toy_config())
    changed["train"]["schedule"]["lr"] = 0.1
    changed["model"]["name"] = "jalal_self_attention"
    with pytest.raises(run_config.ConfigChangedError,
                       match=r"in 2 field\(s\): model.name: \"sun_attention\" -> "
                             r"\"jalal_self_attention\"; train.schedule.lr: 0.001 -> 0.1\. .*"
                             r"--allow_config_change"):
        run_config.check_workdir(tmp_path, changed)
    assert json.loads((tmp_path / "config.json").read_text()) == config  # untouched
    assert not (tmp_path / run_config.CHANGES_FILE).exists()
    run_config.check_workdir(tmp_path, changed, allow_change=True)
    record = json.loads((tmp_path / run_config.CHANGES_FILE).read_text())
    assert [c["field"] for c in record["changes"]] == ["model.name", "train.schedule.lr"]
    assert record["changes"][1] == {"field": "train.schedule.lr", "old": 0.001, "new": 0.1}
    assert json.loads((tmp_path / "config.json").read_text()) == changed


# ---------- small failures ----------

def test_nan_before_any_checkpoint_says_none_was_saved(tmp_path, monkeypatch):
    def poisoned(outputs, batch):
        return jnp.where(batch["step"] >= 0, jnp.nan, loss_lib.get("emotion_ce")(outputs, batch))

    monkeypatch.setitem(loss_lib._REGISTRY, "poisoned_first", "test_reliability:poisoned_first")
    globals()["poisoned_first"] = poisoned
    config = toy_config(steps=4)
    config.losses = {"poisoned_first": {"weight": 1.0}}
    with pytest.raises(loop.NonFiniteLossError, match="No checkpoint was saved yet") as err:
        loop.train_and_evaluate(config, tmp_path)
    assert "None" not in str(err.value)


@pytest.mark.parametrize("field", ["train", "eval"])
def test_non_positive_batch_size_names_the_config_field(tmp_path, field):
    config = toy_config()
    config[field].batch_size = 0
    with pytest.raises(ValueError, match=rf"config\.{field}\.batch_size=0 must be positive"):
        loop.train_and_evaluate(config, tmp_path)


# ---------- peer watchdog ----------

class FakeStore:
    def __init__(self):
        self.values, self.down = {}, False

    def key_value_set(self, key, value, allow_overwrite=False):
        if self.down:
            raise RuntimeError("UNAVAILABLE: Failed to send RPC to coordination service\nmore")
        self.values[key] = value

    def key_value_dir_get(self, prefix):
        if self.down:
            raise RuntimeError("UNAVAILABLE")
        return [(k, v) for k, v in self.values.items() if k.startswith(prefix)]


def _watchdogs(store, clock, n=3):
    return [peers.PeerWatchdog(store, p, n, timeout_s=10, every_s=1, clock=lambda: clock[0])
            for p in range(n)]


def test_watchdog_names_a_silent_peer_after_the_timeout_only():
    store, clock = FakeStore(), [0.0]
    dogs = _watchdogs(store, clock)
    for t in range(1, 10):  # all alive for 9 s, then process 2 goes silent
        clock[0] = float(t)
        assert [d.check() for d in dogs] == ["", "", ""]
    for t in range(10, 20):
        clock[0] = float(t)
        assert dogs[0].check() == "" and dogs[1].check() == ""
    clock[0] = 20.0  # process 0 last saw a new heartbeat of process 2 at t = 10
    message = dogs[0].check()
    assert message.startswith("process 2 of 3 sent no heartbeat for 10 s; it died or hangs")
    assert "\n" not in message and "Stopping process 0" in message


def test_watchdog_waits_for_a_peer_still_starting_up():
    store, clock = FakeStore(), [0.0]
    early, late = _watchdogs(store, clock, n=2)
    for t in range(1, 30):  # process 1 has not sent its first heartbeat yet
        clock[0] = float(t)
        assert early.check() == ""
    assert late.check() == "" and early.check() == ""


def test_watchdog_ignores_a_peer_that_exited_normally():
    store, clock = FakeStore(), [0.0]
    dogs = _watchdogs(store, clock, n=2)
    clock[0] = 1.0
    assert [d.check() for d in dogs] == ["", ""]
    dogs[1].mark_exited()
    for t in range(2, 40):
        clock[0] = float(t)
        assert dogs[0].check() == ""


def test_watchdog_reports_a_lost_coordinator_in_one_line():
    store, clock = FakeStore(), [0.0]
    dog = _watchdogs(store, clock, n=2)[1]
    clock[0] = 1.0
    assert dog.check() == ""
    store.down = True
    clock[0] = 10.0
    assert dog.check() == ""
    clock[0] = 11.0
    message = dog.check()
    assert message.startswith("lost contact with the coordinator (process 0) for 10 s")
    assert "\n" not in message


def test_peer_timeout_from_the_environment(monkeypatch):
    monkeypatch.delenv("FERJAX_PEER_TIMEOUT_S", raising=False)
    assert peers.timeout_from_env() == peers.PEER_TIMEOUT_S == 30.0
    monkeypatch.setenv("FERJAX_PEER_TIMEOUT_S", "7.5")
    assert peers.timeout_from_env() == 7.5
    for bad in ("soon", "0"):
        monkeypatch.setenv("FERJAX_PEER_TIMEOUT_S", bad)
        with pytest.raises(ValueError, match=f"FERJAX_PEER_TIMEOUT_S='{bad}'"):
            peers.timeout_from_env()


def test_a_collective_that_lost_its_peer_ends_in_one_line(monkeypatch):
    lost = []
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    gloo = ValueError("UNKNOWN: Gloo AllGather failed: [pair.cc:538] Read error "
                      "[127.0.0.1]:8084: Connection reset by peer\nmore detail")
    with pytest.raises(ValueError):
        with peers.stop_on_lost_peer(on_lost=lost.append):
            raise gloo
    assert len(lost) == 1 and "\n" not in lost[0]
    assert lost[0].startswith("a collective failed because another process is gone "
                              "(ValueError: UNKNOWN: Gloo AllGather failed")
    with pytest.raises(KeyError):  # any other error passes through untouched
        with peers.stop_on_lost_peer(on_lost=lost.append):
            raise KeyError("x")
    assert len(lost) == 1


# ---------- manual_dir source record ----------

def _prepare(data_cfg):
    return sources._tfds_builder(data_cfg)


def test_changed_manual_dir_is_refused_with_what_changed(tmp_path):
    manual = real_trees.jaffe_tree(tmp_path / "manual")
    data_cfg = {"name": "jaffe", "config": "", "data_dir": str(tmp_path / "data"),
                "manual_dir": str(manual), "builder_kwargs": {"image_size": 8}}
    built = _prepare(data_cfg)
    record = json.loads((Path(built.data_path) / source_record.RECORD_FILE).read_text())
    assert record["path"] == str(manual.resolve()) and record["file_count"] == 5
    _prepare(data_cfg)  # same folder: reused

    other = real_trees.jaffe_tree(tmp_path / "other")
    real_trees.write_image(other / "jaffe/KA.HA2.30.tiff", 12)
    with pytest.raises(source_record.SourceChangedError,
                       match=r"config.data.manual_dir differs .*path .*file_count 5 -> 6; digest"):
        _prepare({**data_cfg, "manual_dir": str(other)})

    real_trees.write_image(manual / "jaffe/KL.SA1.39.tiff", 45)  # same name and size, new pixels
    with pytest.raises(source_record.SourceChangedError, match=r"\(digest '[0-9a-f]+' -> "):
        _prepare(data_cfg)
