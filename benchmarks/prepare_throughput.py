"""Throughput of preparing a real-dataset builder: images/s for N generated 256x256 JPEGs in
a class-folder tree, through the class_folder builder (decode, hash, preprocess, write).

    python benchmarks/prepare_throughput.py --num_images=10000 --crop=none
    python benchmarks/prepare_throughput.py --num_images=10000 --crop=detect   # needs ferjax.preprocess

Prints images/s of the whole download_and_prepare (tree generation excluded).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def write_tree(root: Path, num_images: int, size: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    classes = ("happy", "sad", "neutral", "anger")
    base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    for i in range(num_images):
        folder = root / classes[i % len(classes)]
        folder.mkdir(parents=True, exist_ok=True)
        image = np.roll(base, i, axis=1)  # distinct images, cheap to make
        Image.fromarray(image).save(folder / f"{i:06d}.jpg", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_images", type=int, default=2000)
    parser.add_argument("--source_size", type=int, default=256)
    parser.add_argument("--image_size", type=int, default=128)
    parser.add_argument("--crop", default="none")
    args = parser.parse_args()

    import tensorflow_datasets as tfds

    from ferjax.data import builders

    with tempfile.TemporaryDirectory() as tmp:
        manual, data = Path(tmp) / "manual", Path(tmp) / "data"
        write_tree(manual, args.num_images, args.source_size)
        builder = builders.builder_class("class_folder")(
            config="default", image_size=args.image_size, crop=args.crop, data_dir=str(data),
            file_format="array_record")
        start = time.perf_counter()
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
        seconds = time.perf_counter() - start
    print(f"prepared {args.num_images} images {args.source_size}² -> {args.image_size}² "
          f"crop={args.crop}: {seconds:.1f} s, {args.num_images / seconds:.0f} images/s")


if __name__ == "__main__":
    main()
