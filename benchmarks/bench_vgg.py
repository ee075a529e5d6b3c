"""The VGG-style baseline's train step on this machine: images/s at 48×48 (FER-2013's size).

  python benchmarks/bench_vgg.py [--widths=0.25,0.5,1.0] [--batch=128] [--steps=10]

The step is configs/vgg_fer.py's (SGD-Nesterov, label smoothing, in-step translation, rotation
and random erasing, EMA), on a resident random batch; each figure is the median of `steps`
timed steps after one warm-up (compile excluded, reported separately). Also the evaluation
forward pass, and the train step's images per CPU-second of this process (on a shared machine,
× the cores estimates the idle-machine rate). Prints one JSON line per width.
"""

from __future__ import annotations

import functools
import json
import statistics
import sys
import time
from pathlib import Path

from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_WIDTHS = flags.DEFINE_list("widths", ["0.5"], "Width multipliers.")
_BATCH = flags.DEFINE_integer("batch", 128, "Global batch size.")
_STEPS = flags.DEFINE_integer("steps", 10, "Timed steps per measurement.")
_SIZE = flags.DEFINE_integer("size", 48, "Square input side.")


def _median_seconds(call, steps: int) -> tuple[float, float, float]:
    """(first call s, median wall s per call, process CPU s per call over the timed calls)."""
    import jax
    t0 = time.perf_counter()
    jax.block_until_ready(call())
    first = time.perf_counter() - t0
    times = []
    cpu0 = time.process_time()
    for _ in range(steps):
        t = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - t)
    return first, statistics.median(times), (time.process_time() - cpu0) / steps


def bench(width: float, batch: int, size: int, steps: int) -> dict:
    import jax
    import numpy as np

    from ferjax.configs import vgg_fer
    from ferjax.models import build_model
    from ferjax.train import ema, optim
    from ferjax.train import state as state_lib
    from ferjax.train import steps as step_lib

    config = vgg_fer.get_config(f"width={width}")
    model = build_model(config.model, {"num_classes": 7, "image_shape": (size, size, 1)})
    variables = state_lib.init_variables(model, jax.random.key(0), (size, size, 1))
    tx = optim.make_optimizer(config.train.optimizer,
                              optim.make_schedule(config.train.schedule, 1000))
    state = ema.init(state_lib.create_train_state(model, variables, tx), config.train.ema_decay)
    rng = np.random.default_rng(0)
    batch_np = {"image": rng.normal(size=(batch, size, size, 1)).astype(np.float32),
                "label": rng.integers(0, 7, batch).astype(np.int32),
                "weight": np.ones(batch, np.float32)}
    terms = {k: dict(v) for k, v in config.losses.items()}
    train = jax.jit(functools.partial(step_lib.train_step, loss_terms=terms,
                                      batch_augment=dict(config.data.batch_augment),
                                      ema_decay=config.train.ema_decay), donate_argnums=0)
    holder = {"state": state}

    def train_call():
        holder["state"], metrics = train(holder["state"], batch_np, jax.random.key(1))
        return metrics

    evaluate = jax.jit(functools.partial(step_lib.eval_step, loss_terms=terms))
    compile_s, train_s, train_cpu_s = _median_seconds(train_call, steps)
    _, eval_s, _ = _median_seconds(lambda: evaluate(holder["state"], batch_np), steps)
    params = sum(x.size for x in jax.tree.leaves(variables["params"]))
    return {"width": width, "batch": batch, "size": size, "parameters": int(params),
            "compile_train_s": round(compile_s, 1), "train_img_s": round(batch / train_s, 1),
            "eval_img_s": round(batch / eval_s, 1),
            # Images per second of this process's CPU time: × the core count estimates the
            # rate on an otherwise idle machine when other jobs share it.
            "train_img_per_cpu_s": round(batch / train_cpu_s, 1), "devices": len(jax.devices()),
            "platform": jax.devices()[0].platform}


def main(argv):
    del argv
    for width in _WIDTHS.value:
        print(json.dumps(bench(float(width), _BATCH.value, _SIZE.value, _STEPS.value)), flush=True)


if __name__ == "__main__":
    app.run(main)
