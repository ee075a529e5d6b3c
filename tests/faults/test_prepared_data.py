"""A damaged prepared dataset (a truncated array_record shard) is named with the command that
rebuilds it when the run opens its data, not deep in an input worker mid-training."""

import shutil

import pytest

from ferjax.configs import pieces
from ferjax.data import pipeline, sources

pytestmark = pytest.mark.faults

TINY = {"image_size": (32, 28), "num_subjects": 10, "variants_per_class": 1}


def _data_config(data_dir):
    cfg = pieces.fersynth_data("front", **TINY)
    cfg.data_dir = str(data_dir)
    cfg.crop_size = (32, 28)
    cfg.stats_examples = 8
    return cfg


def test_truncated_shard_is_named_with_the_rebuild(tmp_path):
    cfg = _data_config(tmp_path / "tfds")
    assert len(sources.open_split(cfg, "train")) == 56  # prepares the tiny dataset once
    shard = next((tmp_path / "tfds").rglob("fersynth-train.array_record-*"))
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with pytest.raises(sources.DamagedPreparedDataError) as damaged:
        pipeline.build_data(cfg, seed=0)
    message = str(damaged.value)
    assert message.startswith(f"{shard} holds 0 of its 56 records")
    assert f"Delete {shard.parent} and rerun the same command" in message
    # Following the message rebuilds it.
    shutil.rmtree(shard.parent)
    assert len(sources.open_split(cfg, "train")) == 56
