"""Train throughput of FERAtt (and its baseline) at the authors' code settings.

    python benchmarks/bench_feratt.py --variant=feratt_rep_cls --batch=32 --size=64 --steps=5

Times jitted Adam train steps (forward, the three loss terms, backward, update) on random data
after one compile/warm-up step and prints images per second. The authors' PyTorch code reports
about 13 img/s at batch 32, 64×64 on a CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's configs/

from ferjax.configs.feratt import SMALL_MODEL  # noqa: E402
from ferjax.losses import total_loss  # noqa: E402
from ferjax.models import build_model  # noqa: E402

TERMS = {
    "baseline": {"emotion_ce": {}},
    "feratt_cls": {"emotion_ce": {}, "attention_reconstruction": {}},
    "feratt_rep_cls": {"emotion_ce": {}, "attention_reconstruction": {},
                       "gaussian_manifold": {"sigma": 0.5}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="feratt_rep_cls", choices=sorted(TERMS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--num_resblocks", type=int, default=8)
    parser.add_argument("--embedding_dim", type=int, default=32)
    parser.add_argument("--small", action="store_true",
                        help="the reduced-width CPU model of configs/feratt.py:small")
    args = parser.parse_args()

    num_classes = 8
    model_cfg = {"name": "feratt", "variant": args.variant,
                 "num_resblocks": args.num_resblocks, "embedding_dim": args.embedding_dim}
    if args.small:
        model_cfg.update(SMALL_MODEL)
    model = build_model(model_cfg, {"num_classes": num_classes,
                                    "image_shape": (args.size, args.size, 3)})
    key = jax.random.key(0)
    images = jax.random.uniform(key, (args.batch, args.size, args.size, 3))
    batch = {"image": images, "face": images * (images > 0.5),
             "label": jnp.arange(args.batch) % num_classes, "weight": jnp.ones(args.batch)}
    variables = model.init(key, images[:1])
    params, batch_stats = variables["params"], variables["batch_stats"]
    tx = optax.amsgrad(1e-4)  # the authors' optimiser: Adam with amsgrad, lr 1e-4
    opt_state = tx.init(params)
    terms = TERMS[args.variant]

    @jax.jit
    def train_step(params, batch_stats, opt_state, batch):
        def loss_fn(p):
            out, updates = model.apply({"params": p, "batch_stats": batch_stats}, batch["image"],
                                       train=True, mutable=["batch_stats"])
            return total_loss(out, batch, terms)[0], updates["batch_stats"]
        (loss, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_stats, opt_state, loss

    n_params = sum(x.size for x in jax.tree.leaves(params))
    start = time.perf_counter()
    params, batch_stats, opt_state, loss = train_step(params, batch_stats, opt_state, batch)
    loss.block_until_ready()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.steps):
        params, batch_stats, opt_state, loss = train_step(params, batch_stats, opt_state, batch)
    loss.block_until_ready()
    elapsed = time.perf_counter() - start
    print(f"variant={args.variant} params={n_params:,} batch={args.batch} size={args.size} "
          f"devices={jax.devices()[0].platform}x{jax.device_count()} "
          f"compile+first step={compile_s:.1f}s steps={args.steps} "
          f"train {args.batch * args.steps / elapsed:.1f} img/s ({elapsed / args.steps:.2f} s/step) "
          f"loss={float(loss):.4f}")


if __name__ == "__main__":
    main()
