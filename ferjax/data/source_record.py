"""What a prepared dataset was built from: its manual_dir's path, file count and content digest.

Builders that read user files write this record next to their prepared files; opening the
prepared dataset again with a manual_dir compares the folder with it, so a dataset prepared
from one folder is never silently reused for another, or for the same folder after files were
added, removed or replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ferjax.files import write_text

RECORD_FILE = "manual_source.json"
# Each file contributes its relative path, its size and its first and last CHUNK bytes: whole
# face images are read (most are smaller than 2 × CHUNK), while a folder of large archives is
# still digested in seconds.
CHUNK = 1 << 16


class SourceChangedError(ValueError):
    """The manual_dir differs from the one the prepared dataset was built from."""


def describe(manual_dir: str | Path) -> dict:
    """{"path": absolute folder, "file_count": n, "digest": sha256 hex} of a manual_dir.

    Hidden files and folders (names starting with ".") are left out.
    """
    root = Path(manual_dir).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"config.data.manual_dir: {root} is not a folder")
    digest = hashlib.sha256()
    count = 0
    for path in _files(root):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(root).as_posix()}\0{size}\0".encode())
        with path.open("rb") as f:
            digest.update(f.read(CHUNK))
            if size > 2 * CHUNK:
                f.seek(size - CHUNK)
            digest.update(f.read(CHUNK))
        count += 1
    return {"path": str(root), "file_count": count, "digest": digest.hexdigest()}


def _files(root: Path) -> list[Path]:
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder) / n for n in sorted(names) if not n.startswith("."))
    return found


def write(prepared_dir: str | Path, manual_dir: str | Path) -> Path:
    """Writes describe(manual_dir) to prepared_dir/manual_source.json; returns its path."""
    path = Path(prepared_dir) / RECORD_FILE
    return write_text(path, json.dumps(describe(manual_dir), indent=2))


def check(prepared_dir: str | Path, manual_dir: str | Path) -> None:
    """Raises SourceChangedError when manual_dir is not what prepared_dir was built from.

    A prepared dataset without a record (built before records existed, or not from a
    manual_dir) is accepted as it is.
    """
    path = Path(prepared_dir) / RECORD_FILE
    if not path.exists():
        return
    stored = json.loads(path.read_text())
    current = describe(manual_dir)
    changed = [f"{k} {stored.get(k)!r} -> {current[k]!r}" for k in ("path", "file_count", "digest")
               if stored.get(k) != current[k]]
    if changed:
        raise SourceChangedError(
            f"config.data.manual_dir differs from the folder the prepared dataset in "
            f"{Path(prepared_dir)} was built from ({'; '.join(changed)}). Delete that folder to "
            "rebuild it from the new files, or set config.data.data_dir to another folder to "
            "keep both.")
