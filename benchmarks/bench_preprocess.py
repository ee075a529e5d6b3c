"""Face preprocessing speed on CPU.

    python benchmarks/bench_preprocess.py [--num-images 300] [--repeats 20]

Reports (1) MTCNN detection time on one 640x480 photograph (median over repeats, after a
warm-up that compiles the networks), and (2) preparation throughput in images/s of
FacePreprocessor with detection + alignment to 256x256 grey on jittered 256x256 crops of
`skimage.data.astronaut()` (random scale, rotation and shift, so boxes and candidate counts
vary as in a real dataset), with the number of full-image fallbacks. Runtime about a minute.
"""

import argparse
import time

import cv2
import numpy as np
from skimage import data

from ferjax.preprocess.mtcnn import MTCNN
from ferjax.preprocess.pipeline import FacePreprocessor, PreprocessConfig


def photo_640x480() -> np.ndarray:
    """The 512x512 astronaut scaled to 480 rows and centred on a 640x480 grey canvas."""
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[:, 80:560] = cv2.resize(data.astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    return canvas


def jittered_crops(count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """count random similarity-jittered (size, size, 3) crops around the astronaut's face."""
    rng = np.random.default_rng(seed)
    photo = data.astronaut()
    crops = []
    for _ in range(count):
        scale = rng.uniform(0.9, 1.6)
        matrix = cv2.getRotationMatrix2D((226.0, 125.0), rng.uniform(-20, 20), scale)
        matrix[:, 2] += np.array([size / 2 - 226.0, size / 2 - 125.0]) + rng.uniform(-20, 20, 2)
        crops.append(cv2.warpAffine(photo, matrix, (size, size), borderMode=cv2.BORDER_REFLECT))
    return crops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    detector = MTCNN()
    photo = photo_640x480()
    start = time.perf_counter()
    found = detector.detect(photo)
    first = time.perf_counter() - start
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        detector.detect(photo)
        times.append(time.perf_counter() - start)
    print(f"MTCNN 640x480: {len(found)} face(s); first call (compiles) {first:.2f} s; "
          f"median {1e3 * np.median(times):.1f} ms, min {1e3 * np.min(times):.1f} ms "
          f"over {args.repeats} runs")

    preprocess = FacePreprocessor(PreprocessConfig(output_size=(256, 256), channels=1,
                                                   mode="detect"), detector=detector)
    images = jittered_crops(args.num_images, 256)
    for image in images[:10]:  # warm-up: compile the shapes these crops need
        preprocess(image)
    start = time.perf_counter()
    fallbacks = sum(not preprocess(image)["detected"] for image in images)
    elapsed = time.perf_counter() - start
    print(f"prepare (detect + align, 256x256 in and out): {args.num_images / elapsed:.1f} "
          f"images/s over {args.num_images} images; {fallbacks} full-image fallbacks")


if __name__ == "__main__":
    main()
