"""python -m ferjax.predict --workdir=runs/x PATH... : a trained run's expression predictions
for photos, folders (recursive), globs and videos.

    python -m ferjax.predict --workdir=runs/x photo.jpg
    python -m ferjax.predict --workdir=runs/x photos/ --annotate
    python -m ferjax.predict --workdir=runs/x clip.mp4 --every=5
    python -m ferjax.predict --export=exports/x photo.jpg   # a ferjax.export folder instead


Writes predictions.jsonl and predictions.csv (ferjax.predict.records) and the run's
preprocess.json into --out (default <workdir or export>/predictions/), one row per detected face of each
image or sampled video frame, flushed as each input is done; a rerun skips (file, frame) pairs
already written. Unreadable, empty or faceless inputs get a row with the reason and the run
goes on; the exit status is 1 only when no input could be read. --annotate also writes
out/annotated/*.jpg: boxes, labels, probability bars and the model's input crop with its
attention map where the model has one.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import cv2
from absl import app, flags

from ferjax.predict import inputs as inputs_lib
from ferjax.predict import records as records_lib

# Frames of a video classified per predict() call (their faces share one jitted batch).
FRAMES_PER_CALL = 8
_ARRAYS = ("input", "attention")  # explanation arrays: annotation only, not rows


def define_flags() -> dict:
    return {
        "workdir": flags.DEFINE_string("workdir", "", "The trained run's directory."),
        "export": flags.DEFINE_string("export", "", "Instead of --workdir: a folder written by "
                                      "ferjax.export (no checkpoint or config is read)."),
        "out": flags.DEFINE_string("out", "", "Output folder (default <workdir or export>/"
                                   "predictions)."),
        "checkpoint": flags.DEFINE_enum("checkpoint", "selected", ["selected", "best", "last"],
                                        "Which checkpoint of the run."),
        "every": flags.DEFINE_integer("every", 1, "Videos: classify every N-th frame."),
        "detect": flags.DEFINE_bool("detect", True, "Detect faces (MTCNN); --nodetect: each "
                                    "image is already a face crop."),
        "annotate": flags.DEFINE_bool("annotate", False, "Also write annotated images."),
        "batch_size": flags.DEFINE_integer("batch_size", 16, "Faces per model call."),
        "gradcam_layer": flags.DEFINE_string(
            "gradcam_layer", "", "--annotate: draw this layer's Grad-CAM of the predicted class "
            "(a module path, e.g. stage_2/conv4b) instead of the model's own attention map."),
    }


def annotated_name(source: str, frame: int | None) -> str:
    """A file name unique to (source, frame) that keeps the source's stem readable."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:8]
    return f"{Path(source).stem}-{digest}" + ("" if frame is None else f"-f{frame:06d}") + ".jpg"


def frame_rows(frames, predictor, detect: bool, annotate_dir: Path | None) -> list[dict]:
    """Rows of readable frames (one predict call) and of unreadable ones, in frame order."""
    readable = [f for f in frames if f.image is not None]
    predicted = predictor.predict([f.image for f in readable], [str(i) for i in
                                  range(len(readable))], detect=detect,
                                  explain=annotate_dir is not None) if readable else []
    by_frame: dict[int, list[dict]] = {}
    for record in predicted:
        by_frame.setdefault(int(record["source"]), []).append(record)
    rows, k = [], 0
    for frame in frames:
        head = {"source": frame.source, "frame": frame.frame, "time_s": frame.time_s}
        if frame.image is None:
            rows.append({**head, "face": None, "reason": frame.reason})
            continue
        found = by_frame.get(k, [])
        if annotate_dir is not None:
            from ferjax.predict.annotate import annotate
            cv2.imwrite(str(annotate_dir / annotated_name(frame.source, frame.frame)),
                        annotate(frame.image, found, predictor.spec.class_names))
        rows.extend({**head, **{key: v for key, v in r.items()
                                if key not in _ARRAYS and key != "source"}} for r in found)
        k += 1
    return rows


def progress(items):
    try:
        from tqdm import tqdm
    except ImportError:  # a plain counter without tqdm
        def counted():
            for i, item in enumerate(items, 1):
                print(f"\r{i}/{len(items)}", end="", file=sys.stderr, flush=True)
                yield item
            print(file=sys.stderr)
        return counted()
    return tqdm(items, unit="file", file=sys.stderr)


def run(predictor, paths: list[str], out: Path, every: int = 1, detect: bool = True,
        annotate: bool = False) -> dict:
    """Predicts every input into `out`; counts of frames read, unreadable, skipped (done)."""
    annotate_dir = out / "annotated" if annotate else None
    counts = {"read": 0, "unreadable": 0, "skipped": 0}
    with records_lib.PredictionWriter(out, predictor.spec.class_names) as writer:
        predictor.spec.write(out)
        for path in progress(inputs_lib.expand(paths)):
            if annotate_dir is not None:
                annotate_dir.mkdir(parents=True, exist_ok=True)
            batch = []
            for frame in inputs_lib.read(path, every):
                if frame.key in writer.done:
                    counts["skipped"] += 1
                    continue
                counts["read" if frame.image is not None else "unreadable"] += 1
                batch.append(frame)
                if len(batch) == FRAMES_PER_CALL:  # flushed per chunk: a long video keeps
                    writer.write(frame_rows(batch, predictor, detect, annotate_dir))
                    batch = []                     # its frames done so far on an interrupt
            writer.write(frame_rows(batch, predictor, detect, annotate_dir))
    return counts


def main(argv, holders: dict) -> None:
    f = {name: holder.value for name, holder in holders.items()}
    paths = argv[1:]
    if bool(f["workdir"]) == bool(f["export"]):
        raise app.UsageError("give exactly one of --workdir (a trained run) and --export "
                             "(a ferjax.export folder)")
    if f["export"] and f["gradcam_layer"]:
        raise app.UsageError("--gradcam_layer needs the model's code: use --workdir, not "
                             "--export")
    if not paths:
        raise app.UsageError("give at least one image, video, folder or glob")
    if f["every"] < 1:
        raise app.UsageError(f"--every={f['every']}: expected >= 1")
    source = Path(f["workdir"] or f["export"])
    if not source.is_dir():
        sys.exit(f"error: --{'workdir' if f['workdir'] else 'export'} {source} does not exist")
    from ferjax.predict.predictor import Predictor
    try:
        if f["export"]:
            predictor = Predictor.from_export(source, f["batch_size"])
        else:
            predictor = Predictor.from_workdir(source, f["checkpoint"], f["batch_size"],
                                               gradcam_layer=f["gradcam_layer"])
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    out = Path(f["out"]) if f["out"] else source / "predictions"
    counts = run(predictor, paths, out, f["every"], f["detect"], f["annotate"])
    print(f"{counts['read']} images read, {counts['unreadable']} unreadable, "
          f"{counts['skipped']} already done; written to {out}", file=sys.stderr)
    if not counts["read"] and not counts["skipped"]:
        sys.exit(f"error: none of the {len(paths)} inputs could be read")


def console_main():
    """The ferjax-predict console command."""
    holders = define_flags()
    app.run(lambda argv: main(argv, holders))


if __name__ == "__main__":
    console_main()
