"""How much of this CPU a train step uses, and how it compares with the same network in PyTorch.

  python benchmarks/cpu_efficiency.py [--cases=vgg_cpu,sun_48,sun_144x112] [--steps=10]
      [--rounds=2] [--compute_dtype=float32|bfloat16] [--torch_threads=0]

Cases (the networks, batches, optimisers and in-step augmentation of the configs):
  vgg_cpu      configs/vgg_fer.py:cpu    width 0.5, 48×48 grey, batch 128, SGD-Nesterov, label
               smoothing 0.1, translate 4, EMA 0.999
  sun_48       configs/sun_attention.py:data=fer2013   48×48 grey, batch 64, Adam, translate 4,
               EMA 0.999
  sun_144x112  configs/sun_attention.py (the main job)  144×112 grey, batch 32, Adam

For each case, after one warm-up call (compile excluded), the median over `steps` calls of:
  jax_step   ferjax's jitted train step as the trainer runs it (augmentation and EMA included);
  jax_bare   the same step without in-step augmentation and EMA: the network's forward,
             backward and optimiser update alone;
  torch      (only when `import torch` works; PyTorch is a benchmark peer, never a dependency:
             `pip install --no-deps torch` with its pure-Python requirements) the same
             architecture written in PyTorch, channels_last, the same batch, loss and
             optimiser, no augmentation, `--torch_threads` threads (0: the CPUs this process
             may use). The two are timed alternately, A B A B over `rounds`, so that drift of a
             shared machine falls on both.
FLOPs are XLA's cost analysis of the forward pass at the batch × 3 (forward, input gradient,
weight gradient), the same count for both frameworks; the peak is a 2048³ float32 matmul timed
in the same process (jnp.dot, median of 10), and `fraction_of_peak` is GFLOP/s over it. Prints
one JSON line per case, then one with the peak.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import sys
import time
from pathlib import Path

from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = {
    # name: (config module, config argument, (H, W, C), classes)
    "vgg_cpu": ("vgg_fer", "cpu,classes=7", (48, 48, 1), 7),
    "sun_48": ("sun_attention", "data=fer2013", (48, 48, 1), 7),
    "sun_144x112": ("sun_attention", "", (144, 112, 1), 8),
}
TRAIN_FLOPS_FACTOR = 3
_CASES = flags.DEFINE_list("cases", list(CASES), f"Of {sorted(CASES)}.")
_STEPS = flags.DEFINE_integer("steps", 10, "Timed calls per measurement.")
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Alternating rounds of each framework.")
_DTYPE = flags.DEFINE_enum("compute_dtype", "float32", ["float32", "bfloat16"],
                           "ferjax's compute dtype (PyTorch stays float32).")
_TORCH_THREADS = flags.DEFINE_integer("torch_threads", 0, "0: the CPUs this process may use.")
_CONV_GRAD = flags.DEFINE_integer(
    "conv_grad_positions", None, "Sets config.model.conv_grad_positions (0: XLA's own weight "
    "gradient; unset: the model's default, chunked on the CPU).")


def median_seconds(call, steps: int) -> float:
    """Median wall seconds of `call()` (which blocks until its result is ready)."""
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_peak_gflops(n: int = 2048, repeats: int = 10) -> float:
    """float32 GFLOP/s of an n×n by n×n jnp.dot on the default device (median)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    dot = jax.jit(jnp.dot)
    jax.block_until_ready(dot(a, b))
    return 2 * n ** 3 / median_seconds(lambda: jax.block_until_ready(dot(a, b)), repeats) / 1e9


def _flops(compiled) -> float:
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):  # older jax: one dict per computation
        cost = cost[0]
    return float(cost["flops"])


def jax_steps(case: str, compute_dtype: str, conv_grad_positions: int | None = None) -> dict:
    """{"config", "batch", "forward_flops", "jax_step": call, "jax_bare": call} for a case."""
    import importlib

    import jax
    import jax.numpy as jnp
    import numpy as np

    from ferjax.models import build_model
    from ferjax.train import ema, optim
    from ferjax.train import state as state_lib
    from ferjax.train import steps as step_lib

    module, arg, shape, classes = CASES[case]
    config = importlib.import_module(f"ferjax.configs.{module}").get_config(arg)
    if conv_grad_positions is not None:
        config.model.conv_grad_positions = conv_grad_positions
    batch = config.train.batch_size
    model = build_model(config.model, {"num_classes": classes, "image_shape": shape})
    variables = state_lib.init_variables(model, jax.random.key(0), shape)
    tx = optim.make_optimizer(config.train.optimizer,
                              optim.make_schedule(config.train.schedule, 1000))
    rng = np.random.default_rng(0)
    data = {"image": rng.normal(size=(batch, *shape)).astype(np.float32),
            "label": rng.integers(0, classes, batch).astype(np.int32),
            "weight": np.ones(batch, np.float32)}
    terms = {k: dict(v) for k, v in config.losses.items()}
    dtype = jnp.bfloat16 if compute_dtype == "bfloat16" else jnp.float32

    def step_call(batch_augment, ema_decay):
        # A copy: the step donates its state, and each call site needs the initial variables.
        state = ema.init(state_lib.create_train_state(
            model, jax.tree.map(jnp.copy, variables), tx), ema_decay)
        step = jax.jit(functools.partial(step_lib.train_step, loss_terms=terms,
                                         compute_dtype=dtype, batch_augment=batch_augment,
                                         ema_decay=ema_decay), donate_argnums=0)
        holder = {"state": state}

        def call():
            holder["state"], metrics = step(holder["state"], data, jax.random.key(1))
            jax.block_until_ready(metrics)

        call()  # compile
        return call

    forward = jax.jit(lambda x: model.apply(variables, x, train=False)).lower(
        data["image"]).compile()
    return {"config": f"{module}:{arg}" if arg else module, "batch": batch, "shape": shape,
            "classes": classes, "optimizer": dict(config.train.optimizer),
            "label_smoothing": float(config.losses.emotion_ce.get("label_smoothing", 0.0)),
            "model": dict(config.model), "forward_flops": _flops(forward),
            "parameters": sum(int(x.size) for x in jax.tree.leaves(variables["params"])),
            "jax_step": step_call(dict(config.data.batch_augment), config.train.ema_decay),
            "jax_bare": step_call({}, 0.0)}


def torch_step(spec: dict, threads: int):
    """The case's network, loss and optimiser in PyTorch (channels_last): a call that runs
    one step on a resident random batch; None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    from benchmarks import torch_twins

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    h, w, c = spec["shape"]
    net = torch_twins.build(spec["model"], c, spec["classes"]).to(
        memory_format=torch.channels_last)
    if torch_twins.parameter_count(net) != spec["parameters"]:
        raise RuntimeError(f"the PyTorch twin of {spec['config']} has "
                           f"{torch_twins.parameter_count(net)} parameters, ferjax's model "
                           f"{spec['parameters']}: not the same network")
    opt = spec["optimizer"]
    rate = 1e-3  # the step's cost does not depend on the learning rate
    if opt["name"] == "sgd":
        optimiser = torch.optim.SGD(net.parameters(), lr=rate,
                                    momentum=opt["momentum"], nesterov=opt["nesterov"],
                                    weight_decay=opt["weight_decay"])
    else:
        optimiser = torch.optim.Adam(net.parameters(), lr=rate,
                                     betas=(opt["b1"], opt["b2"]), eps=opt["eps"])
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=spec["label_smoothing"])
    images = torch.randn(spec["batch"], c, h, w).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, spec["classes"], (spec["batch"],))
    net.train()

    def call():
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(net(images), labels)
        loss.backward()
        optimiser.step()
        loss.item()

    call()
    return call


def measure(case: str, steps: int, rounds: int, compute_dtype: str, threads: int,
            peak: float, conv_grad_positions: int | None = None) -> dict:
    spec = jax_steps(case, compute_dtype, conv_grad_positions)
    calls = {"jax_step": spec["jax_step"], "jax_bare": spec["jax_bare"],
             # The same step with XLA's own convolution weight gradient (before chunking).
             "jax_step_xla_grad": jax_steps(case, compute_dtype, 0)["jax_step"]}
    torch_call = torch_step(spec, threads)
    if torch_call is not None:
        calls["torch"] = torch_call
    rates = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            rates[name].append(spec["batch"] / median_seconds(call, steps))
    gflop_per_image = TRAIN_FLOPS_FACTOR * spec["forward_flops"] / spec["batch"] / 1e9
    out = {"case": case, "config": spec["config"], "batch": spec["batch"],
           "input": list(spec["shape"]), "compute_dtype": compute_dtype,
           "train_gflop_per_image": round(gflop_per_image, 4)}
    for name, values in rates.items():
        img_s = statistics.median(values)
        out[name] = {"img_s": round(img_s, 1), "img_s_per_round": [round(v, 1) for v in values],
                     "gflop_s": round(img_s * gflop_per_image, 1),
                     "fraction_of_peak": round(img_s * gflop_per_image / peak, 3)}
    if "torch" in rates:
        out["torch_threads"] = threads
        for name in ("jax_step", "jax_bare", "jax_step_xla_grad"):
            out[f"{name}_over_torch"] = round(out[name]["img_s"] / out["torch"]["img_s"], 3)
    return out


def main(argv):
    del argv
    import jax

    unknown = set(_CASES.value) - set(CASES)
    if unknown:
        raise app.UsageError(f"--cases: unknown {sorted(unknown)}; expected some of "
                             f"{sorted(CASES)}")
    threads = _TORCH_THREADS.value or len(os.sched_getaffinity(0))
    peak = matmul_peak_gflops()
    for case in _CASES.value:
        print(json.dumps(measure(case, _STEPS.value, _ROUNDS.value, _DTYPE.value, threads, peak,
                                 _CONV_GRAD.value)), flush=True)
    print(json.dumps({"matmul_f32_peak_gflop_s": round(peak, 1),
                      "device": f"{jax.devices()[0].device_kind} x{jax.device_count()}",
                      "cpus": len(os.sched_getaffinity(0)),
                      "xla_flags": os.environ.get("XLA_FLAGS", "")}), flush=True)


if __name__ == "__main__":
    app.run(main)
