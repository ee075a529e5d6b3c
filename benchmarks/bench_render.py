"""FERSynth rendering speed, single process: faces/s by preset and image size.

    python benchmarks/bench_render.py [--n 500]

Reports wall-clock faces/s and faces per CPU-second (process time, which is what one core
delivers when the machine is not shared), plus the load average at the time: on a shared
machine the wall figure understates the per-core speed. Target: >= 500 faces/s per core at
144x112 grey.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ferjax import synth  # noqa: E402

CASES = (
    ("front", dict(image_size=(144, 112), channels=1)),
    ("front", dict(image_size=(224, 224), channels=1)),
    ("front", dict(image_size=(224, 224), channels=3)),
    ("front", dict()),
    ("pose", dict()),
    ("wild", dict()),
    ("composite", dict()),
)


def measure(config: synth.SynthConfig, n: int) -> tuple[float, float]:
    """(wall faces/s, faces per CPU-second) rendering indices 0..n-1 of seed 0."""
    synth.render_example(config, 0, 0)  # warm caches and imports
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        synth.render_example(config, 0, i)
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500, help="faces per case")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'preset':10s} {'H x W x C':>14s} {'faces/s wall':>13s} {'faces/CPU-s':>12s}")
    for name, overrides in CASES:
        config = synth.preset(name, **overrides)
        wall, cpu = measure(config, args.n)
        size = f"{config.height}x{config.width}x{config.channels}"
        print(f"{name:10s} {size:>14s} {wall:13.0f} {cpu:12.0f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
