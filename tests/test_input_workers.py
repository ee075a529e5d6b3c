"""Host input with worker processes: the worker count's default, and worker processes giving
the in-process batches with an iterator state that restores exactly."""

import numpy as np
import pytest

from ferjax.data import pipeline, sources


@pytest.mark.parametrize("cpus,expected", [(1, 0), (2, 0), (4, 3), (16, 15), (96, 32)])
def test_auto_workers_leave_a_core_to_the_step(cpus, expected):
    assert pipeline.resolve_workers(-1, cpu_count=cpus) == expected


def test_auto_workers_follow_the_allocation_not_the_node(monkeypatch):
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 128)
    assert pipeline.allocated_cpus({}) == 6  # taskset / cpuset mask, not the node's 128
    assert pipeline.allocated_cpus({"SLURM_CPUS_PER_TASK": "4"}) == 4  # unbound job step
    assert pipeline.allocated_cpus({"SLURM_CPUS_PER_TASK": "16"}) == 6
    assert pipeline.allocated_cpus({"SLURM_CPUS_PER_TASK": ""}) == 6
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "4")
    assert pipeline.resolve_workers(-1) == 3


def test_explicit_workers_are_kept_and_bad_ones_named():
    assert pipeline.resolve_workers(0, cpu_count=16) == 0
    assert pipeline.resolve_workers(5, cpu_count=2) == 5
    with pytest.raises(ValueError, match=r"config\.data\.workers=-3"):
        pipeline.resolve_workers(-3)


def _dataset(workers):
    rng = np.random.default_rng(1)
    records = [{"image": rng.integers(0, 255, (20, 20, 1)).astype(np.uint8),
                "label": np.int64(i % 8)} for i in range(37)]
    spec = pipeline.ExampleSpec((16, 16), 1, tuple(range(8)))
    source = sources.ListSource(records)
    norm = pipeline.estimate_normalisation(source, spec, 64)
    transform = pipeline.TrainTransform(spec, norm, flip=True, random_crop=True, brightness=0.1)
    return pipeline.train_dataset(source, transform, seed=3, local_batch_size=5, workers=workers)


def _assert_same(batches, expected):
    assert len(batches) == len(expected)
    for got, want in zip(batches, expected):
        assert sorted(got) == sorted(want)
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])


def test_worker_processes_give_the_in_process_batches_and_resume_exactly():
    expected = [b for b, _ in zip(iter(_dataset(0)), range(12))]
    # 37 examples in batches of 5: batch 7 straddles the first epoch's end.
    workers = iter(_dataset(2))
    first = [next(workers) for _ in range(5)]
    state = workers.get_state()
    rest = [next(workers) for _ in range(7)]
    workers.close()
    _assert_same(first + rest, expected)
    resumed = iter(_dataset(2))
    resumed.set_state(state)
    _assert_same([next(resumed) for _ in range(7)], expected[5:])
    resumed.close()
