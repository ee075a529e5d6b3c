"""EmotionalDAN's stage 1 trained until its validation landmark NME stops improving (the
paper), through the stage-wise runner's phase config and the trainer's selection."""

import jax
import numpy as np
import pytest
from scripted import scripted_validation

from ferjax.configs import emotional_dan as dan_config
from ferjax.data import sources
from ferjax.runs import stagewise
from ferjax.train import checkpoint, loop

SIZE = 32


def _records(n, seed):
    """Random faces with 68 jittered landmarks; 10 subjects; canonical labels 0..7 in turn."""
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(0).uniform(8, 24, size=(68, 2))
    return [{"image": rng.integers(0, 255, (SIZE, SIZE, 1)).astype(np.uint8),
             "label": np.int64(i % 8),
             "landmarks": (base + rng.uniform(-2, 2, size=2)).astype(np.float32),
             "subject_id": np.int64(i % 10), "fold": np.int64(i % 5)} for i in range(n)]


def _config(arg="stop1=1"):
    c = dan_config.get_config(f"size={SIZE},width=2,fc=8,runlocal,{arg}")
    c.data.source = "memory"
    c.data.records = {"train": sources.ListSource(_records(40, 1)),
                      "validation": sources.ListSource(_records(16, 2))}
    c.data.stats_examples = 16
    c.train.batch_size = 8
    c.stagewise.first_stage_steps = 8
    c.stagewise.first_stage.eval_every = 2
    return c


def test_stop1_selects_stage_1_on_the_validation_landmark_nme():
    c = _config()
    first, second = stagewise.phases(c)[:2]
    stage1 = stagewise.phase_config(c, first)
    assert stage1.train.select.to_dict() == {"metric": "loss/landmark_nme", "mode": "min",
                                             "patience": 1}
    assert stage1.data.validation_fraction == 0.15 and stage1.train.eval_every == 2
    stage2 = stagewise.phase_config(c, second, "stage_1_dir")
    assert stage2.data.validation_fraction == 0.0 and stage2.train.eval_every == 0
    # Without stop1 nothing changes.
    plain = stagewise.phase_config(dan_config.get_config("runlocal"), first)
    assert plain.data.validation_fraction == 0.0 and "select" not in plain.stagewise.first_stage
    with pytest.raises(ValueError, match="stop1=-1"):
        dan_config.get_config("stop1=-1")


def test_stage_1_selection_needs_a_validation_split():
    c = _config()
    c.stagewise.first_stage.validation_fraction = 0.0
    with pytest.raises(ValueError, match="config.stagewise.first_stage.select stops stage 1 on a "
                                         "validation split, but none is set"):
        stagewise.phase_config(c, stagewise.phases(c)[0])


def test_stage_1_stops_and_the_next_stage_starts_from_its_best(tmp_path):
    c = _config()
    stage1 = stagewise.phase_config(c, stagewise.phases(c)[0])
    with scripted_validation("loss/landmark_nme", [0.30, 0.20, 0.25, 0.1]):
        trained = loop.train(stage1, tmp_path)
    s = trained.result["selection"]
    assert s["evaluations"] == [[2, 0.30], [4, 0.20], [6, 0.25]]  # patience 1: stops at 6
    assert s["stopped_early"] and s["best_step"] == 4 and trained.result["last"]["step"] == 6
    # init_from (the next phase's warm start) reads the selected checkpoint: the best.
    for a, b in zip(jax.tree.leaves(checkpoint.restore_variables(tmp_path)),
                    jax.tree.leaves(checkpoint.restore_variables(tmp_path, "best"))):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(checkpoint.restore_variables(tmp_path, "best")),
        jax.tree.leaves(checkpoint.restore_variables(tmp_path, "last"))))
