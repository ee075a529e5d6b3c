"""Sun et al. models: compile time and train/eval images/s at batch 32 and 128, and the input
pipeline's images/s on FERSynth `front`.

  python benchmarks/bench_sun.py [--batch_sizes=32,128] [--steps=10] [--data_dir=DIR]

Prints a markdown table (paste into docs/performance.md). Timings exclude compilation, which is
reported separately; each figure is the median over `steps` timed steps after one warm-up.
"""

from __future__ import annotations

import functools
import platform
import statistics
import sys
import time
from pathlib import Path

from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_BATCHES = flags.DEFINE_list("batch_sizes", ["32", "128"], "Global batch sizes.")
_STEPS = flags.DEFINE_integer("steps", 10, "Timed steps per measurement.")
_DATA_DIR = flags.DEFINE_string("data_dir", "", "tfds data_dir for the pipeline measurement.")
_PIPELINE_BATCHES = flags.DEFINE_integer("pipeline_batches", 30, "Batches read for the pipeline.")


def _time_steps(fn, args_fn, steps: int) -> tuple[float, float]:
    """(compile+first-call seconds, median seconds per later call)."""
    import jax
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args_fn()))
    first = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        args = args_fn()
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return first, statistics.median(times)


def bench_model(name: str, batch: int, steps: int) -> dict:
    import jax
    import numpy as np
    import optax

    from ferjax.models import build_model
    from ferjax.train import distributed
    from ferjax.train import state as state_lib
    from ferjax.train import steps as step_lib

    mesh = distributed.data_mesh()
    model = build_model({"name": name}, {"num_classes": 8, "image_shape": (144, 112, 1)})
    variables = state_lib.init_variables(model, jax.random.key(0), (144, 112, 1))
    state = jax.device_put(state_lib.create_train_state(model, variables, optax.adam(1e-4)),
                           distributed.replicated(mesh))
    rng = np.random.default_rng(0)
    batch_np = {"image": rng.normal(size=(batch, 144, 112, 1)).astype(np.float32),
                "label": rng.integers(0, 8, batch).astype(np.int32),
                "weight": np.ones(batch, np.float32)}
    gbatch = distributed.global_batch(mesh, batch_np)
    terms = {"emotion_ce": {"weight": 1.0}}
    train = jax.jit(functools.partial(step_lib.train_step, loss_terms=terms))
    holder = {"state": state}

    def train_args():
        return holder["state"], gbatch, jax.random.key(1)

    def train_call(*args):
        holder["state"], metrics = train(*args)
        return metrics

    evaluate = jax.jit(functools.partial(step_lib.eval_step, loss_terms=terms))
    compile_train, t_train = _time_steps(train_call, train_args, steps)
    compile_eval, t_eval = _time_steps(evaluate, lambda: (holder["state"], gbatch), steps)
    return {"model": name, "batch": batch, "compile_train_s": compile_train,
            "train_img_s": batch / t_train, "compile_eval_s": compile_eval,
            "eval_img_s": batch / t_eval}


def bench_pipeline(data_dir: str, num_batches: int) -> float:
    from ferjax.configs import sun_attention
    from ferjax.data import pipeline

    c = sun_attention.get_config("")
    if data_dir:
        c.data.data_dir = data_dir
    data = pipeline.build_data(c.data, seed=0)
    it = iter(pipeline.train_dataset(
        data.train, pipeline.TrainTransform(data.spec, data.norm, **dict(c.data.augment)),
        seed=0, local_batch_size=32))
    next(it)
    t = time.perf_counter()
    for _ in range(num_batches):
        next(it)
    return 32 * num_batches / (time.perf_counter() - t)


def main(argv):
    del argv
    import jax
    print(f"device: {jax.devices()[0].device_kind} x{jax.device_count()} "
          f"({platform.processor() or platform.machine()}), jax {jax.__version__}")
    print("| model | batch | train img/s | eval img/s | compile train (s) | compile eval (s) |")
    print("|---|---|---|---|---|---|")
    for name in ("sun_baseline", "sun_attention", "sun_gap"):
        for batch in (int(b) for b in _BATCHES.value):
            r = bench_model(name, batch, _STEPS.value)
            print(f"| {name} | {batch} | {r['train_img_s']:.1f} | {r['eval_img_s']:.1f} | "
                  f"{r['compile_train_s']:.1f} | {r['compile_eval_s']:.1f} |", flush=True)
    rate = bench_pipeline(_DATA_DIR.value, _PIPELINE_BATCHES.value)
    print(f"\ninput pipeline (FERSynth front, crop+flip+normalise, 1 process): {rate:.0f} img/s")


if __name__ == "__main__":
    app.run(main)
