"""Faces per second of ferjax.predict on CPU: photos with 1 and 4 faces, detection included and
excluded.

  python benchmarks/predict_throughput.py [--workdir=runs/x] [--images=500] [--batch=16]

Without --workdir, trains configs/sun_attention.py:runlocal for its few steps into a temporary
folder (the speed depends on the network and its input size, not on how well it is trained).
The photos are FERSynth faces rendered at 160×128 and pasted side by side on a plain background
(MTCNN finds them with scores near 0.99). After one warm-up call (compilation), prints ONE JSON
line:
  detect_<k>_faces   for photos of k faces: images/s and faces/s of Predictor.predict with
                     MTCNN detection (every face found, cropped and classified), and the faces
                     found per photo;
  classify_only      faces/s of Predictor.predict(detect=False) on the same number of stored
                     face crops: preprocessing, TTA views and the jitted classifier alone;
  export_batch1_ms   median latency (ms) of the exported StableHLO artefact at batch 1, when
                     ferjax.export is installed (ferjax.export).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FACE_SIZE = (160, 128)
GAP = 40


def face_images(n: int, seed: int = 0) -> list[np.ndarray]:
    """n FERSynth `front` faces, uint8 (160, 128, 1)."""
    from ferjax import synth
    source = synth.FERSynthSource(synth.preset("front", image_size=FACE_SIZE), seed=seed,
                                  num_examples=None, split="test")
    return [np.asarray(source[i % len(source)]["image"]) for i in range(n)]


def photo(faces: list[np.ndarray], grey: int = 90) -> np.ndarray:
    """The faces side by side, GAP pixels apart and around, on a uniform background."""
    h, w = faces[0].shape[:2]
    canvas = np.full((h + 2 * GAP, GAP + len(faces) * (w + GAP), faces[0].shape[2]), grey,
                     np.uint8)
    for i, face in enumerate(faces):
        x = GAP + i * (w + GAP)
        canvas[GAP:GAP + h, x:x + w] = face
    return canvas


def tiny_run(workdir: Path) -> Path:
    run = subprocess.run([sys.executable, str(REPO / "launch.py"),
                          "--config=configs/sun_attention.py:runlocal", f"--workdir={workdir}"],
                         cwd=REPO, capture_output=True, text=True)
    if run.returncode:
        sys.exit(run.stdout[-2000:] + run.stderr[-2000:])
    return workdir


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def predict_rate(predictor, photos: list[np.ndarray], batch: int, detect: bool) -> dict:
    """images/s and faces/s of predictor.predict over `photos`, `batch` photos per call."""
    predictor.predict(photos[:batch], detect=detect)  # compile
    seconds, faces = 0.0, 0
    for start in range(0, len(photos), batch):
        took, records = timed(predictor.predict, photos[start:start + batch], detect=detect)
        seconds += took
        faces += sum(r["face"] is not None for r in records)
    return {"images": len(photos), "faces": faces, "seconds": round(seconds, 2),
            "images_per_s": round(len(photos) / seconds, 1),
            "faces_per_s": round(faces / seconds, 1),
            "faces_per_photo": round(faces / len(photos), 2)}


def export_latency_ms(workdir: Path, repeats: int = 50) -> float | None:
    """Median batch-1 latency of the exported artefact, or None without ferjax.export."""
    try:
        from ferjax import export  # noqa: F401
    except ImportError:
        return None
    from ferjax.predict.predictor import Predictor
    with tempfile.TemporaryDirectory() as out:
        run = subprocess.run([sys.executable, "-m", "ferjax.export", f"--workdir={workdir}",
                              f"--out={out}/export"], cwd=REPO, capture_output=True, text=True)
        if run.returncode:
            print(run.stdout[-1000:] + run.stderr[-1000:], file=sys.stderr)
            return None
        predictor = Predictor.from_export(f"{out}/export", batch_size=1)
        face = face_images(1)
        predictor.predict(face, detect=False)
        times = [timed(predictor.predict, face, detect=False)[0] for _ in range(repeats)]
    return round(1000 * statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="")
    parser.add_argument("--images", type=int, default=500, help="photos per face count")
    parser.add_argument("--batch", type=int, default=16, help="photos per predict call")
    args = parser.parse_args()
    from ferjax.predict.predictor import Predictor

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir) if args.workdir else tiny_run(Path(tmp) / "run")
        predictor = Predictor.from_workdir(workdir)
        faces = face_images(4 * args.images)
        result = {"workdir": str(workdir) if args.workdir else "sun_attention:runlocal",
                  "crop_size": list(predictor.spec.crop_size), "tta": predictor.spec.tta}
        for k in (1, 4):
            photos = [photo(faces[i * k:(i + 1) * k]) for i in range(args.images)]
            result[f"detect_{k}_faces"] = predict_rate(predictor, photos, args.batch, True)
        result["classify_only"] = predict_rate(predictor, faces[:args.images], args.batch,
                                               False)
        result["export_batch1_ms"] = export_latency_ms(workdir)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
