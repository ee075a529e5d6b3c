"""EmotionalDAN size and speed: parameters and forward GFLOPs per stage, train/eval images/s.

Run from the repository root:
    python benchmarks/bench_emotional_dan.py                       # 224×224, batches 8 and 32
    python benchmarks/bench_emotional_dan.py --size 64 --batch_sizes 8 --steps 3   # quick look

GFLOPs come from XLA's cost analysis of the compiled forward pass (jax.jit(f).lower(...)
.compile().cost_analysis()["flops"], multiply-adds counted as 2). Throughput is timed over
`--steps` calls after one warm-up call, blocking on the results; "train" is one optimizer step of
a stage-wise phase (stage t trains, earlier stages frozen), "eval" the full forward pass.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ferjax import losses
from ferjax.models import build_model
from ferjax.train import stagewise


def mean_shape(size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0.25, 0.75, size=(68, 2)) * size


def make_model(size: int, num_stages: int, num_classes: int, **overrides):
    return build_model({"name": "emotional_dan", "num_stages": num_stages, **overrides},
                       {"num_classes": num_classes, "image_shape": (size, size, 1),
                        "mean_landmarks": mean_shape(size)})


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def parameters_per_stage(size: int, num_stages: int, num_classes: int) -> dict[str, int]:
    model = make_model(size, num_stages, num_classes)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, size, size, 1)))
    params = shapes["params"]
    result = {name: count(tree) for name, tree in params.items()}
    result.update({f"{name}/fc1": count(tree["fc1"]) for name, tree in params.items()})
    result["total"] = count(params)
    return result


def forward_flops(size: int, stages: int, num_classes: int) -> float:
    model = make_model(size, stages, num_classes)
    images = jnp.zeros((1, size, size, 1))
    variables = jax.eval_shape(model.init, jax.random.key(0), images)
    compiled = jax.jit(lambda v, x: model.apply(v, x, train=False)).lower(
        variables, images).compile()
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
    return float(analysis["flops"])


def _time(fn, args, steps: int) -> float:
    jax.block_until_ready(fn(*args))  # compile + warm-up
    start = time.perf_counter()
    for _ in range(steps):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / steps


def throughput(size: int, num_stages: int, num_classes: int, batch: int, steps: int,
               train_stage: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    images = jnp.asarray(rng.normal(size=(batch, size, size, 1)), jnp.float32)
    batch_dict = {"image": images, "label": jnp.zeros((batch,), jnp.int32),
                  "weight": jnp.ones((batch,)),
                  "landmarks": jnp.asarray(mean_shape(size)[None].repeat(batch, 0), jnp.float32)}
    full = make_model(size, num_stages, num_classes)
    variables = jax.jit(full.init)(jax.random.key(0), images[:1])
    evaluate = jax.jit(lambda v, x: full.apply(v, x, train=False)["logits"])
    eval_s = _time(evaluate, (variables, images), steps)

    phase = stagewise.StagePhase(train_stage, steps, "adam" if train_stage == 1 else "sgd_clr",
                                 {"landmark_nme": {"weight": 0.4},
                                  "emotion_ce": {"weight": 0.6}})
    model = make_model(size, num_stages, num_classes, **phase.model_overrides())
    optimizer = stagewise.phase_optimizer(phase, variables["params"])

    @jax.jit
    def train_step(variables, opt_state, batch_dict, key):
        def loss_fn(params):
            out, updates = model.apply({**variables, "params": params}, batch_dict["image"],
                                       train=True, rngs={"dropout": key},
                                       mutable=["batch_stats"])
            return losses.total_loss(out, batch_dict, phase.losses)[0], updates

        (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(variables["params"])
        changes, opt_state = optimizer.update(grads, opt_state, variables["params"])
        return ({"params": optax.apply_updates(variables["params"], changes), **updates},
                opt_state, loss)

    train_s = _time(train_step, (variables, optimizer.init(variables["params"]), batch_dict,
                                 jax.random.key(1)), steps)
    return {"batch": batch, "eval_images_per_s": batch / eval_s,
            "train_images_per_s": batch / train_s, "train_stage": train_stage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--num_stages", type=int, default=2)
    parser.add_argument("--num_classes", type=int, default=7)
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--skip_speed", action="store_true")
    args = parser.parse_args()

    report = {"device": str(jax.devices()[0].device_kind), "size": args.size,
              "parameters": parameters_per_stage(args.size, args.num_stages, args.num_classes)}
    flops = [forward_flops(args.size, t, args.num_classes) for t in range(1, args.num_stages + 1)]
    report["forward_gflops_per_image"] = {
        f"stage_{t}": (flops[t - 1] - (flops[t - 2] if t > 1 else 0.0)) / 1e9
        for t in range(1, args.num_stages + 1)}
    report["forward_gflops_per_image"]["total"] = flops[-1] / 1e9
    print(json.dumps(report, indent=1), flush=True)
    if not args.skip_speed:
        for batch in args.batch_sizes:
            result = throughput(args.size, args.num_stages, args.num_classes, batch, args.steps,
                                train_stage=args.num_stages)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
