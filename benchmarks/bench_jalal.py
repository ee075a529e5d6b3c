"""Jalal et al. 2019 network: parameters, forward FLOPs, and train/eval images per second.

    python benchmarks/bench_jalal.py --size=224 --batch=8 --steps=5 [--no_attention]

Prints one line per measurement. Timings exclude compilation (first call) and block on results.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax

from ferjax.models.jalal import JalalSelfAttentionNet


def _time(fn, steps: int) -> float:
    """Seconds per call of fn() after one warm-up call."""
    jax.block_until_ready(fn())
    start = time.perf_counter()
    for _ in range(steps):
        jax.block_until_ready(fn())
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--no_attention", action="store_true")
    args = parser.parse_args()

    model = JalalSelfAttentionNet(num_classes=8, use_attention=not args.no_attention)
    images = jax.random.normal(jax.random.key(0), (args.batch, args.size, args.size,
                                                   args.channels))
    labels = jnp.arange(args.batch) % 8
    variables = model.init(jax.random.key(1), images[:1])
    params, stats = variables["params"], variables["batch_stats"]
    tx = optax.adam(1e-4)
    opt_state = tx.init(params)
    n_params = sum(x.size for x in jax.tree.leaves(params))

    @jax.jit
    def eval_step(params, stats, images):
        return model.apply({"params": params, "batch_stats": stats}, images)["logits"]

    @jax.jit
    def train_step(params, stats, opt_state, images, labels, key):
        def loss_fn(p):
            out, new = model.apply({"params": p, "batch_stats": stats}, images, train=True,
                                   rngs={"dropout": key}, mutable=["batch_stats"])
            loss = optax.softmax_cross_entropy_with_integer_labels(out["logits"], labels).mean()
            return loss, new["batch_stats"]

        (loss, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_stats, opt_state, loss

    cost = eval_step.lower(params, stats, images).compile().cost_analysis()
    flops = (cost[0] if isinstance(cost, list) else cost).get("flops", float("nan"))
    eval_s = _time(lambda: eval_step(params, stats, images), args.steps)
    key = jax.random.key(2)
    train_s = _time(lambda: train_step(params, stats, opt_state, images, labels, key)[3],
                    args.steps)
    name = "no attention" if args.no_attention else "attention"
    print(f"jalal ({name}) input {args.size}x{args.size}x{args.channels}: {n_params:,} params, "
          f"{flops / args.batch / 1e9:.2f} GFLOPs/image forward (XLA cost analysis)")
    print(f"batch {args.batch}: eval {args.batch / eval_s:.1f} img/s, "
          f"train {args.batch / train_s:.1f} img/s on {jax.devices()[0].device_kind} "
          f"({jax.device_count()} device(s))")


if __name__ == "__main__":
    main()
