"""Compile time, step time, XLA cost and memory of one jitted train step of Jalal's network or
FERAtt, to see why a step is slow.

    python benchmarks/step_cost.py --model=jalal --size=224 --batch=2
    python benchmarks/step_cost.py --model=feratt_rep_cls --size=64 --batch=4

Prints one line: trace/lower, compile and step times, wall and process CPU seconds (CPU seconds
are the figure to compare on a shared machine), forward+backward GFLOPs per image from XLA's
cost analysis and the step's temporary buffer size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ferjax.losses import total_loss  # noqa: E402
from ferjax.models import build_model  # noqa: E402

TERMS = {"emotion_ce": {}, "attention_reconstruction": {}, "gaussian_manifold": {"sigma": 0.5}}


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = jax.block_until_ready(fn())
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="jalal", choices=("jalal", "feratt_rep_cls"))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()

    classes = 8
    if args.model == "jalal":
        model_cfg, terms = {"name": "jalal_self_attention"}, {"emotion_ce": {}}
    else:  # the authors' code widths: 8 ResBlocks, z = 32
        model_cfg = {"name": "feratt", "variant": "feratt_rep_cls", "num_resblocks": 8,
                     "embedding_dim": 32}
        terms = TERMS
    model = build_model(model_cfg, {"num_classes": classes,
                                    "image_shape": (args.size, args.size, 3)})
    key = jax.random.key(0)
    images = jax.random.uniform(key, (args.batch, args.size, args.size, 3))
    batch = {"image": images, "face": images * (images > 0.5),
             "label": jnp.arange(args.batch) % classes, "weight": jnp.ones(args.batch)}
    variables = model.init(key, images[:1])
    tx = optax.adam(1e-4)
    state = (variables["params"], variables["batch_stats"], tx.init(variables["params"]))

    @jax.jit
    def train_step(state, batch, key):
        params, stats, opt_state = state

        def loss_fn(p):
            out, new = model.apply({"params": p, "batch_stats": stats}, batch["image"],
                                   train=True, rngs={"dropout": key}, mutable=["batch_stats"])
            return total_loss(out, batch, terms)[0], new["batch_stats"]

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), stats, opt_state), loss

    wall, cpu = time.perf_counter(), time.process_time()
    lowered = train_step.lower(state, batch, key)
    lower_s, lower_cpu = time.perf_counter() - wall, time.process_time() - cpu
    compiled, compile_s, compile_cpu = _timed(lowered.compile)
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    _timed(lambda: compiled(state, batch, key))
    _, step_s, step_cpu = _timed(lambda: compiled(state, batch, key))
    temp = compiled.memory_analysis().temp_size_in_bytes
    print(f"{args.model} {args.size}x{args.size} batch {args.batch}: "
          f"lower {lower_s:.1f} s ({lower_cpu:.1f} CPU s), "
          f"compile {compile_s:.1f} s ({compile_cpu:.1f} CPU s), "
          f"step {step_s:.2f} s ({step_cpu:.2f} CPU s), "
          f"{cost.get('flops', float('nan')) / args.batch / 1e9:.1f} GFLOP/image fwd+bwd, "
          f"temp {temp / args.batch / 1e6:.0f} MB/image")


if __name__ == "__main__":
    main()
