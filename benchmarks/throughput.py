"""Trainer throughput against the bare step: does the training loop run at its step's speed?

  python benchmarks/throughput.py --config=configs/sun_attention.py --batch_size=256 \
      [--compute_dtype=bfloat16] [--steps=20] [--log_every=5] [--steps_per_call=1] \
      [--placement=auto|device|host] [--peak_tflops=X] [--config.<field>=value ...]

Prints ONE JSON line:
  trainer_img_s  the real loop (ferjax.train.loop.train: input, steps, logging) over `steps`
                 steps after a first log interval of `log_every` steps that holds the
                 compilation; from the loop's own per-interval img/s (metrics.jsonl
                 "images_per_s", measured between the fetches of consecutive log points).
  step_img_s     the bare jitted train step called back to back on one resident batch.
  ratio          trainer_img_s / step_img_s.
  forward_gflops_per_image   XLA's CPU cost analysis of the inference forward pass (GPU cost
                 analysis leaves out cuDNN convolutions, so it is always taken on CPU).
  step_gflops_per_image      the same for the whole train step (forward, backward, update).
  achieved_tflops            TRAIN_FLOPS_FACTOR (3) × forward FLOPs × trainer_img_s.
  utilisation    achieved_tflops / --peak_tflops (null without it).
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import tempfile
import time
from pathlib import Path

from absl import app, flags
from ml_collections import config_flags

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Backward ≈ 2× forward (gradients w.r.t. activations and weights), so a step ≈ 3× forward.
TRAIN_FLOPS_FACTOR = 3.0

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.",
                                          lock_config=False)
_BATCH = flags.DEFINE_integer("batch_size", 256, "Global batch size.")
_DTYPE = flags.DEFINE_string("compute_dtype", "float32", "float32 | bfloat16.")
_STEPS = flags.DEFINE_integer("steps", 20, "Timed trainer steps (a multiple of log_every).")
_LOG_EVERY = flags.DEFINE_integer("log_every", 5, "Trainer log interval (steps).")
_STEPS_PER_CALL = flags.DEFINE_integer("steps_per_call", 1, "config.train.steps_per_call.")
_PLACEMENT = flags.DEFINE_string("placement", "", "config.data.placement ('' = the config's).")
_PEAK = flags.DEFINE_float("peak_tflops", 0.0, "Device peak TFLOP/s for utilisation.")
_WORKDIR = flags.DEFINE_string("workdir", "", "Trainer workdir ('' = a temporary one).")


def bench_config(config, batch: int, dtype: str, steps: int, log_every: int, k: int,
                 placement: str):
    """The experiment config, shortened to log_every + steps steps of `batch`, evaluating and
    checkpointing only at the end."""
    if steps <= 0 or steps % log_every:
        raise ValueError(f"--steps={steps} must be a positive multiple of --log_every={log_every}")
    c = config.copy_and_resolve_references()
    c.train.batch_size = batch
    c.train.compute_dtype = dtype
    c.train.num_steps = log_every + steps
    c.train.log_every = log_every
    c.train.eval_every = 0
    c.train.checkpoint_every = c.train.num_steps
    c.train.steps_per_call = k
    if placement:
        c.data.placement = placement
    return c


def trainer_rate(config, workdir: Path) -> tuple[float, str]:
    """(img/s of the loop after its first log interval, placement used)."""
    from ferjax.train import loop, writers

    trained = loop.train(config, workdir)
    lines = [l for l in writers.read_metrics(workdir) if l["split"] == "train"]
    timed = lines[1:]  # the first interval holds the compilation
    images = seconds = 0.0
    previous = lines[0]["step"]
    for line in timed:
        n = (line["step"] - previous) * config.train.batch_size
        images += n
        seconds += n / line["images_per_s"]
        previous = line["step"]
    from ferjax.data import device_input
    return images / seconds, device_input.choose_placement(trained.data, config.data)


def step_measures(config, steps: int) -> dict:
    """Bare jitted step img/s on a resident batch, and FLOPs per image from XLA (CPU)."""
    import jax

    from ferjax import losses as loss_lib  # noqa: F401  (registry used by the step)
    from ferjax.data import pipeline
    from ferjax.models import build_model
    from ferjax.train import distributed, optim, precision
    from ferjax.train import state as state_lib
    from ferjax.train import steps as step_lib

    data = pipeline.build_data(config.data, seed=config.seed)
    mesh = distributed.data_mesh()
    repl = distributed.replicated(mesh)
    model = build_model(config.model, data.info)
    tx = optim.make_optimizer(config.train.optimizer,
                              optim.make_schedule(config.train.schedule, config.train.num_steps))
    variables = state_lib.init_variables(model, jax.random.key(0), data.info["image_shape"])
    state = jax.device_put(state_lib.create_train_state(
        model, variables, tx, config.train.get("trainable", "")), repl)
    batch_size = config.train.batch_size
    local = next(iter(pipeline.train_dataset(
        data.train, pipeline.TrainTransform(data.spec, data.norm, **dict(config.data.augment)),
        seed=0, local_batch_size=distributed.local_batch_size(batch_size))))
    batch = distributed.global_batch(mesh, local)
    dtype = precision.compute_dtype(config.train)
    terms = {k: dict(v) for k, v in config.losses.items()}
    rng = jax.random.key(1)
    step = jax.jit(functools.partial(step_lib.train_step, loss_terms=terms, compute_dtype=dtype),
                   donate_argnums=0, out_shardings=(repl, repl)).lower(state, batch, rng).compile()
    forward = jax.jit(lambda s, x: s.apply_fn({"params": s.params, "batch_stats": s.batch_stats},
                                              x, train=False)).lower(state, batch["image"])
    state, metrics = step(state, batch, rng)  # warm-up
    jax.block_until_ready(metrics)
    t = time.perf_counter()
    for _ in range(steps):
        state, metrics = step(state, batch, rng)
    jax.block_until_ready((state, metrics))
    seconds = time.perf_counter() - t
    return {"step_img_s": steps * batch_size / seconds,
            "forward_gflops_per_image": _flops(forward.compile()) / batch_size / 1e9,
            "step_gflops_per_image": _flops(step) / batch_size / 1e9}


def _flops(compiled) -> float:
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):  # older jax: one dict per computation
        cost = cost[0]
    return float(cost["flops"])


def main(argv):
    del argv
    import jax

    config = bench_config(_CONFIG.value, _BATCH.value, _DTYPE.value, _STEPS.value,
                          _LOG_EVERY.value, _STEPS_PER_CALL.value, _PLACEMENT.value)
    # The trainer's progress lines go to stderr: stdout carries the one JSON line.
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sys.stderr):
        trainer, placement = trainer_rate(config, Path(_WORKDIR.value or tmp))
        step = step_measures(config, _STEPS.value)
    achieved = TRAIN_FLOPS_FACTOR * step["forward_gflops_per_image"] * 1e9 * trainer / 1e12
    print(json.dumps({
        "argv": sys.argv[1:],
        "device": f"{jax.devices()[0].device_kind} x{jax.device_count()}",
        "batch_size": config.train.batch_size, "compute_dtype": config.train.compute_dtype,
        "steps_per_call": config.train.steps_per_call, "placement": placement,
        "trainer_img_s": round(trainer, 2), "step_img_s": round(step["step_img_s"], 2),
        "ratio": round(trainer / step["step_img_s"], 3),
        "forward_gflops_per_image": round(step["forward_gflops_per_image"], 4),
        "step_gflops_per_image": round(step["step_gflops_per_image"], 4),
        "train_flops_factor": TRAIN_FLOPS_FACTOR,
        "achieved_tflops": round(achieved, 5),
        "utilisation": round(achieved / _PEAK.value, 5) if _PEAK.value > 0 else None,
    }), flush=True)


if __name__ == "__main__":
    app.run(main)
