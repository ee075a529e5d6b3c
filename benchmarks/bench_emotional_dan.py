"""EmotionalDAN size and speed: parameters and forward GFLOPs per stage, train/eval images/s.

Run from the repository root:
    python benchmarks/bench_emotional_dan.py                       # 224×224, batches 8 and 32
    python benchmarks/bench_emotional_dan.py --size 112 --width 8 --fc 64 --batch_sizes 32
        # the CPU config of configs/emotional_dan.py

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

from ferjax.models import build_model
from ferjax.train import optim, steps
from ferjax.train import state as state_lib

WIDTHS: dict[str, int] = {}  # --width/--fc overrides of Table 1's base_channels/fc_units


def mean_shape(size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0.25, 0.75, size=(68, 2)) * size


def make_model(size: int, num_stages: int, num_classes: int, **overrides):
    overrides = {**WIDTHS, **overrides}
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


def _time(fn, args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile + warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats


def throughput(size: int, num_stages: int, num_classes: int, batch: int, num_steps: int,
               train_stage: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    images = jnp.asarray(rng.normal(size=(batch, size, size, 1)), jnp.float32)
    batch_dict = {"image": images, "label": jnp.zeros((batch,), jnp.int32),
                  "weight": jnp.ones((batch,)),
                  "landmarks": jnp.asarray(mean_shape(size)[None].repeat(batch, 0), jnp.float32)}
    full = make_model(size, num_stages, num_classes)
    variables = jax.jit(full.init)(jax.random.key(0), images[:1])
    evaluate = jax.jit(lambda v, x: full.apply(v, x, train=False)["logits"])
    eval_s = _time(evaluate, (variables, images), num_steps)

    # The stage-wise phase that trains `train_stage` (ferjax.runs.stagewise): earlier stages
    # frozen in the model and in the optimiser, SGD + triangular CLR, the joint loss.
    model = make_model(size, num_stages, num_classes, active_stages=train_stage,
                       frozen_stages=train_stage - 1)
    tx = optim.make_optimizer({"name": "sgd"}, optim.make_schedule(
        {"kind": "triangular", "low": 1e-4, "high": 0.05, "half_cycle": 10_000}, 1))
    state = state_lib.create_train_state(model, variables, tx, f"^stage_{train_stage}/")
    terms = {"landmark_nme": {"weight": 0.4}, "emotion_ce": {"weight": 0.6}}
    train_step = jax.jit(lambda st, b, k: steps.train_step(st, b, k, loss_terms=terms))
    train_s = _time(train_step, (state, batch_dict, jax.random.key(1)), num_steps)
    return {"batch": batch, "eval_images_per_s": batch / eval_s,
            "train_images_per_s": batch / train_s, "train_stage": train_stage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--num_stages", type=int, default=2)
    parser.add_argument("--num_classes", type=int, default=7)
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--width", type=int, default=64, help="base_channels (Table 1: 64)")
    parser.add_argument("--fc", type=int, default=256, help="fc1 units (Table 1: 256)")
    parser.add_argument("--skip_speed", action="store_true")
    args = parser.parse_args()
    WIDTHS.update(base_channels=args.width, fc_units=args.fc)

    report = {"device": str(jax.devices()[0].device_kind), "size": args.size,
              "width": args.width, "fc": args.fc,
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
