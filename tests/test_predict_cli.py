"""python -m ferjax.predict on a folder of small synthetic inputs: faces, two faces, a video,
corrupt, empty and faceless files; resumable output; exit statuses and one-line errors."""

import csv
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from ferjax.predict import __main__ as cli
from ferjax.predict import records
from ferjax.predict.predictor import Predictor
from tests import predict_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return predict_run.tiny_run(tmp_path_factory.mktemp("predict_cli") / "run")


@pytest.fixture(scope="module")
def predictor(run):
    return Predictor.from_workdir(run, batch_size=8)


def _bgr(image):
    return cv2.cvtColor(np.repeat(image, 3, -1) if image.shape[-1] == 1 else image,
                        cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    faces = predict_run.faces(3)
    (root / "sub").mkdir()
    cv2.imwrite(str(root / "sub" / "one.jpg"), _bgr(predict_run.pasted(faces[:1])))
    cv2.imwrite(str(root / "two.png"), _bgr(predict_run.pasted(faces[1:])))
    cv2.imwrite(str(root / "grey.png"), np.full((120, 160, 3), 128, np.uint8))
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (root / "empty.jpg").write_bytes(b"")
    frame = _bgr(predict_run.pasted(faces[:1]))
    writer = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0,
                             (frame.shape[1], frame.shape[0]))
    for _ in range(5):
        writer.write(frame)
    writer.release()
    return root


def _rows(out):
    return [json.loads(line) for line in (out / records.JSONL).read_text().splitlines()]


def test_a_folder_gives_a_row_per_face_and_per_unreadable_input(predictor, photos, tmp_path):
    out = tmp_path / "out"
    counts = cli.run(predictor, [str(photos)], out, every=2, annotate=True)
    assert counts == {"read": 6, "unreadable": 2, "skipped": 0}  # 3 stills + 3 video frames
    rows = {(r["source"].split("/")[-1], r["frame"], r["face"]): r for r in _rows(out)}
    assert set(rows) == {("clip.avi", 0, 0), ("clip.avi", 2, 0), ("clip.avi", 4, 0),
                         ("corrupt.png", None, None), ("empty.jpg", None, None),
                         ("grey.png", None, None), ("one.jpg", None, 0), ("two.png", None, 0),
                         ("two.png", None, 1)}
    assert rows[("clip.avi", 4, 0)]["time_s"] == pytest.approx(0.4)
    assert rows[("corrupt.png", None, None)]["reason"] == "not a readable image"
    assert rows[("empty.jpg", None, None)]["reason"] == "empty file"
    assert rows[("grey.png", None, None)]["reason"] == "no face detected"
    assert rows[("one.jpg", None, 0)]["label"] in predictor.spec.class_names
    with open(out / records.CSV) as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows) and {"p_happy", "x0", "time_s", "reason"} <= set(table[0])
    assert len(list((out / "annotated").glob("*.jpg"))) == 6
    assert (out / "preprocess.json").exists()


def test_a_rerun_skips_what_is_written_and_drops_a_cut_line(predictor, photos, tmp_path):
    out = tmp_path / "out"
    cli.run(predictor, [str(photos / "sub"), str(photos / "*.png")], out)
    first = (out / records.JSONL).read_text()
    with open(out / records.JSONL, "a") as f:
        f.write('{"source": "cut sho')  # an interrupted write
    counts = cli.run(predictor, [str(photos / "sub"), str(photos / "*.png")], out)
    assert counts == {"read": 0, "unreadable": 0, "skipped": 4}
    assert (out / records.JSONL).read_text() == first
    counts = cli.run(predictor, [str(photos / "*.png"), str(photos / "clip.avi")], out,
                     every=4)
    assert counts["read"] == 2 and counts["skipped"] == 3  # frames 0 and 4 are new
    assert len(_rows(out)) == len(first.splitlines()) + 2


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ferjax.predict", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_exit_status_is_an_error_only_when_nothing_could_be_read(run, photos, tmp_path):
    done = _cli(f"--workdir={run}", f"--out={tmp_path / 'a'}", photos / "corrupt.png",
                photos / "sub" / "one.jpg", "--nodetect")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(_rows(tmp_path / "a")) == 2
    done = _cli(f"--workdir={run}", f"--out={tmp_path / 'b'}", photos / "corrupt.png",
                photos / "empty.jpg")
    assert done.returncode == 1 and "none of the 2 inputs" in done.stderr


def test_missing_or_non_run_workdirs_are_one_line_errors(tmp_path):
    for workdir in (tmp_path / "missing", tmp_path):
        done = _cli(f"--workdir={workdir}", "x.jpg")
        assert done.returncode == 1
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("error:") and str(workdir) in line


def test_an_export_folder_predicts_what_its_run_does(run, photos, tmp_path):
    from ferjax import export

    export.export_run(run, tmp_path / "export", onnx=False)
    args = (photos / "sub" / "one.jpg", "--nodetect")
    from_run = _cli(f"--workdir={run}", f"--out={tmp_path / 'a'}", *args)
    from_export = _cli(f"--export={tmp_path / 'export'}", *args)
    assert from_run.returncode == 0 and from_export.returncode == 0, from_export.stderr[-2000:]
    (a,), (b,) = _rows(tmp_path / "a"), _rows(tmp_path / "export" / "predictions")
    assert a["label"] == b["label"]
    assert list(b["probabilities"].values()) == pytest.approx(
        list(a["probabilities"].values()), abs=1e-5)
    both = _cli(f"--workdir={run}", f"--export={tmp_path / 'export'}", *args)
    assert both.returncode != 0 and "exactly one of --workdir" in both.stderr
    gradcam = _cli(f"--export={tmp_path / 'export'}", "--gradcam_layer=trunk", *args)
    assert gradcam.returncode != 0 and "--gradcam_layer needs the model's code" in gradcam.stderr
