"""Errors for bad manual data: missing files and unreadable images."""

from __future__ import annotations

from pathlib import Path


class MissingManualFile(FileNotFoundError):
    """A file or folder the builder needs is absent from manual_dir; the message says what to put there."""


class UnreadableImage(Exception):
    """An image that cannot be decoded (truncated, corrupt, missing); skipped and reported."""


def require(path: Path, what: str) -> Path:
    """`path` if it exists, else MissingManualFile naming the path and what belongs there."""
    if not Path(path).exists():
        raise MissingManualFile(f"missing {path}: {what}")
    return Path(path)


def first_existing(candidates: list[Path], what: str) -> Path:
    """The first existing path among `candidates` (accepted layout variants), else an error naming them all."""
    for path in candidates:
        if Path(path).exists():
            return Path(path)
    names = " or ".join(str(p) for p in candidates)
    raise MissingManualFile(f"missing {names}: {what}")
