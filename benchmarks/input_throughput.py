"""Training input throughput against the train step's consumption, EmotionalDAN at 224×224.

Run from the repository root:
    python benchmarks/input_throughput.py --workers 0 2 --step_img_s 1781
        # host pipeline with 0 (in-process) and 2 worker processes, against the H200's
        # EmotionalDAN 224 stage-2 step (1,781 img/s at batch 64, float32)
    python benchmarks/input_throughput.py --workers 0 --measure_step --step_batch 8
        # ... against the step measured here (Table 1 widths; slow on a CPU)
    python benchmarks/input_throughput.py --workers 0 --device_path
        # also the device-resident path (ferjax.data.device_input.train_batch, jitted)

The records are synthetic but shaped and stored like a prepared real dataset's at the paper's
size: 224×224 grey uint8 images held ZLIB-compressed (as the builders' tfds Tensor features;
smooth face-sized structure so they compress like photographs), 68 landmarks and a label. The
transform is configs/emotional_dan.py's training augmentation (no crop or flip; brightness
±0.3 and contrast 0.2–1.8 on the per-pixel z-scored image). The host figure is batches/s ×
batch after the first batch (worker start-up excluded) over `--seconds`. One JSON line per
measurement. `cpu_ms_per_example` is the CPU time one process spends reading, decoding and
transforming an example (process time, so it does not depend on what else the machine runs);
`projected_img_s` = (`--cores` − 1) workers × 1000 / cpu_ms_per_example, an estimate that holds
while each worker stays CPU-bound (decompression and numpy on one example at a time) and the
transfer of finished batches from the workers (shared memory) is not the limit: with workers,
`main_process_cpu_ms_per_example` is the training process's CPU time per example received
(all its threads), so 1000 / it bounds what one training process can take in.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = 224


class ZlibSource:
    """Random-access records whose images are stored ZLIB-compressed and decoded on read."""

    def __init__(self, num_records: int, size: int, seed: int = 0):
        import cv2

        rng = np.random.default_rng(seed)
        self.images, self.landmarks, self.labels = [], [], []
        for i in range(num_records):
            coarse = rng.uniform(0, 255, (size // 16, size // 16)).astype(np.float32)
            fine = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
            image = np.clip(fine + rng.normal(0, 4, fine.shape), 0, 255).astype(np.uint8)
            self.images.append(zlib.compress(image[..., None].tobytes()))
            self.landmarks.append(rng.uniform(0.25, 0.75, (68, 2)).astype(np.float32) * size)
            self.labels.append(i % 7)
        self.size = size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        image = np.frombuffer(zlib.decompress(self.images[i]), np.uint8)
        return {"image": image.reshape(self.size, self.size, 1),
                "landmarks": self.landmarks[i], "label": np.int64(self.labels[i])}


def emotional_dan_data(num_records: int):
    """pipeline.Data and config.data of configs/emotional_dan.py at 224×224 over ZlibSource."""
    from ferjax.configs import emotional_dan
    from ferjax.data import pipeline

    cfg = emotional_dan.get_config(f"size={SIZE}").data
    source = ZlibSource(num_records, SIZE)
    spec = pipeline.ExampleSpec(tuple(cfg.crop_size), cfg.channels, tuple(range(7)),
                                tuple(cfg.extra_keys))
    norm = pipeline.estimate_normalisation(source, spec, 64, cfg.normalisation)
    return pipeline.Data(source, source, spec, norm, {}), cfg


def host_img_s(data, cfg, workers: int, batch: int, seconds: float) -> float:
    from ferjax.data import pipeline

    transform = pipeline.TrainTransform(data.spec, data.norm, **dict(cfg.augment))
    iterator = iter(pipeline.train_dataset(data.train, transform, seed=0,
                                           local_batch_size=batch, workers=workers))
    for _ in range(max(workers, 1) * 2):
        next(iterator)  # worker start-up and their first batches
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        next(iterator)
        count += 1
    rate = count * batch / (time.perf_counter() - start)
    main_cpu_ms = (time.process_time() - cpu) / (count * batch) * 1e3
    if hasattr(iterator, "close"):
        iterator.close()
    return rate, main_cpu_ms


def cpu_ms_per_example(data, cfg, count: int = 128) -> float:
    """CPU time (ms) of one example's read, decode and transform in one thread: what one
    worker process spends per example, whatever else the machine runs."""
    from ferjax.data import pipeline

    transform = pipeline.TrainTransform(data.spec, data.norm, **dict(cfg.augment))
    rng = np.random.default_rng(0)
    transform.random_map(data.train[0], rng)
    start = time.process_time()
    for i in range(count):
        transform.random_map(data.train[i % len(data.train)], rng)
    return (time.process_time() - start) / count * 1e3


def device_img_s(data, cfg, batch: int, seconds: float) -> float:
    import jax

    from ferjax.data import device_input
    from ferjax.train import distributed

    resident = device_input.place(data, cfg.augment, distributed.data_mesh())
    fn = jax.jit(device_input.train_batch, static_argnames="batch_size")
    key = jax.random.key(0)
    jax.block_until_ready(fn(resident, key, 0, batch_size=batch))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        out = fn(resident, key, steps + 1, batch_size=batch)
        steps += 1
    jax.block_until_ready(out)
    return steps * batch / (time.perf_counter() - start)


def measured_step_img_s(batch: int, width: int, fc: int) -> float:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_emotional_dan as dan

    dan.WIDTHS.update(base_channels=width, fc_units=fc)
    return dan.throughput(SIZE, 2, 7, batch, 2, train_stage=2)["train_images_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--records", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--step_img_s", type=float, default=0.0,
                        help="the step's consumption, img/s (e.g. 1781: H200, batch 64, f32)")
    parser.add_argument("--measure_step", action="store_true",
                        help="measure the stage-2 train step here instead")
    parser.add_argument("--step_batch", type=int, default=8)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--fc", type=int, default=256)
    parser.add_argument("--device_path", action="store_true")
    parser.add_argument("--cores", type=int, default=16)
    args = parser.parse_args()

    data, cfg = emotional_dan_data(args.records)
    step = args.step_img_s
    if args.measure_step:
        step = measured_step_img_s(args.step_batch, args.width, args.fc)
        print(json.dumps({"step_img_s": round(step, 2), "step_batch": args.step_batch,
                          "width": args.width, "fc": args.fc}), flush=True)
    for workers in args.workers:
        rate, main_cpu_ms = host_img_s(data, cfg, workers, args.batch, args.seconds)
        line = {"path": "host", "workers": workers, "batch": args.batch,
                "img_s": round(rate, 1), "main_process_cpu_ms_per_example": round(main_cpu_ms, 3),
                "cpu_count": os.cpu_count(),
                "load_average_1min": round(os.getloadavg()[0], 1)}
        if step:
            line["ratio_to_step"] = round(rate / step, 2)
        print(json.dumps(line), flush=True)
    cpu_ms = cpu_ms_per_example(data, cfg)
    projected = (args.cores - 1) * 1e3 / cpu_ms
    line = {"path": "host", "cpu_ms_per_example": round(cpu_ms, 3),
            "projected_workers": args.cores - 1, "projected_img_s": round(projected, 1)}
    if step:
        line["projected_ratio_to_step"] = round(projected / step, 2)
    print(json.dumps(line), flush=True)
    if args.device_path:
        rate = device_img_s(data, cfg, args.batch, args.seconds)
        line = {"path": "device", "batch": args.batch, "img_s": round(rate, 1)}
        if step:
            line["ratio_to_step"] = round(rate / step, 2)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
