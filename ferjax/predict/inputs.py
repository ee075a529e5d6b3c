"""Prediction inputs: command-line paths -> image files and video frames, each with the reason
it could not be read instead of an image when it cannot.

A path is a file, a folder (searched recursively for image and video files) or a glob; files
are images unless their suffix is a video's (VIDEO_SUFFIXES). Images are decoded with OpenCV
to RGB uint8 (H, W, 3); videos are read with cv2.VideoCapture, every `every`-th frame.
"""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclasses.dataclass(frozen=True)
class Frame:
    """One image to classify: source (the file), frame (video frame index, None for a still
    image), time_s (the frame's time in seconds, None for a still), image RGB uint8 (H, W, 3)
    or None with `reason` saying why it could not be read."""
    source: str
    frame: int | None = None
    time_s: float | None = None
    image: np.ndarray | None = None
    reason: str | None = None

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.source, self.frame)


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _media(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES


def expand(paths: list[str]) -> list[str]:
    """Files named by `paths` (files, folders recursively, globs), in order, each once; a path
    that matches nothing stays, so that it gets a row saying so."""
    out: list[str] = []
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and _media(p))
        elif not path.exists() and glob.has_magic(arg):
            found = sorted(p for p in glob.glob(arg, recursive=True) if Path(p).is_file())
            found = found or [arg]
        else:
            found = [arg]
        out.extend(p for p in found if p not in out)
    return out


def read_image(path: str) -> Frame:
    """A still image as RGB uint8, or a Frame with the reason it cannot be read."""
    file = Path(path)
    if not file.exists():
        return Frame(path, reason="no such file")
    if not file.is_file():
        return Frame(path, reason="not a file")
    data = np.fromfile(file, np.uint8)
    if not data.size:
        return Frame(path, reason="empty file")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        return Frame(path, reason="not a readable image")
    return Frame(path, image=cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def read_video(path: str, every: int = 1) -> Iterator[Frame]:
    """Every `every`-th frame of a video (frame 0 first), or one Frame with the reason it
    cannot be read. A frame's time is its index / the container's frame rate (the decoder's
    position when the rate is unknown)."""
    if every < 1:
        raise ValueError(f"every={every}: expected >= 1")
    file = Path(path)
    if not file.is_file() or not file.stat().st_size:
        yield Frame(path, reason="no such file" if not file.exists() else "empty file")
        return
    capture = cv2.VideoCapture(str(file))
    try:
        if not capture.isOpened():
            yield Frame(path, reason="not a readable video")
            return
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        index, read_any = 0, False
        while True:
            ok, image = capture.read()
            if not ok:
                break
            read_any = True
            if index % every == 0:
                time_s = index / fps if fps > 0 else capture.get(cv2.CAP_PROP_POS_MSEC) / 1e3
                yield Frame(path, frame=index, time_s=round(float(time_s), 3),
                            image=cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            index += 1
        if not read_any:
            yield Frame(path, reason="no decodable frames")
    finally:
        capture.release()


def read(path: str, every: int = 1) -> Iterator[Frame]:
    """The frames of one input file: a video's sampled frames or a still image."""
    if is_video(path):
        yield from read_video(path, every)
    else:
        yield read_image(path)
