"""Keeps one workdir to one experiment: a rerun must use the config the workdir was started with.

The launched config is stored as workdir/config.json. A later launch into the same workdir is
compared with it field by field; a difference in any field that can change what is trained is
refused with the fields named, unless the caller allows the change, which is then appended to
workdir/config_changes.jsonl (time, field, old and new value) and config.json is replaced.

Fields that say where the inputs are or how they are read (PATH_FIELDS) are not refused: a
moved data_dir, another worker count, or a manual_dir at a new path holding the same files
(the same source_record digest, kept in workdir/manual_source.json) is recorded in
config_changes.jsonl and the run goes on.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any, Mapping

import jax

from ferjax.data import source_record

# Fields that change only how often things are logged, evaluated or kept, never the training
# trajectory or the final evaluation, so a resumed run may change them freely.
NEUTRAL_FIELDS = frozenset({"train.log_every", "train.eval_every", "train.checkpoint_every",
                            "train.keep_checkpoints", "figures"})
# Where the inputs are and how they are read, not what they are (data.workers: the batches are
# those of workers=0 for every count, ferjax.data.pipeline.train_dataset).
PATH_FIELDS = frozenset({"data.manual_dir", "data.data_dir", "data.workers"})
MANUAL_DIR = "data.manual_dir"
CONFIG_FILE = "config.json"
CHANGES_FILE = "config_changes.jsonl"


class ConfigChangedError(ValueError):
    """The config differs from the one the workdir's run was started with."""


def config_dict(config) -> dict:
    """The ml_collections config as plain JSON data (unserialisable values as their repr)."""
    return json.loads(config.to_json_best_effort())


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b.c": leaf} for nested dicts; lists and scalars are leaves."""
    if isinstance(tree, Mapping) and tree:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}


def _comparable(value: Any) -> Any:
    # Object reprs carry memory addresses that differ between processes.
    text = json.dumps(value, sort_keys=True)
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)


def differences(stored: Mapping, new: Mapping) -> list[tuple[str, Any, Any]]:
    """(field, stored value, new value) for every non-neutral field that differs; a field
    missing on one side has the value None there."""
    old_flat, new_flat = flatten(stored), flatten(new)
    changed = []
    for field in sorted(set(old_flat) | set(new_flat)):
        if field in NEUTRAL_FIELDS:
            continue
        old, value = old_flat.get(field), new_flat.get(field)
        if _comparable(old) != _comparable(value):
            changed.append((field, old, value))
    return changed


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _manual_dir_moved(workdir: Path, changed, new_config: Mapping) -> str | None:
    """Why a manual_dir change must be refused (None when its files are the same)."""
    change = next((c for c in changed if c[0] == MANUAL_DIR), None)
    if change is None:
        return None
    record = workdir / source_record.RECORD_FILE
    new_dir = flatten(new_config).get(MANUAL_DIR) or ""
    if not new_dir or not record.exists():
        return f"{MANUAL_DIR}: {_short(change[1])} -> {_short(change[2])}"
    stored = json.loads(record.read_text())
    try:
        current = source_record.describe(new_dir)
    except FileNotFoundError as e:
        return str(e)
    if (stored.get("file_count"), stored.get("digest")) != (current["file_count"],
                                                           current["digest"]):
        return (f"{MANUAL_DIR}: {new_dir} holds other files than {stored.get('path')} did "
                f"({current['file_count']} files against {stored.get('file_count')}, or changed "
                "content)")
    return None


def _write_manual_record(workdir: Path, config: Mapping, changed) -> None:
    manual_dir = flatten(config).get(MANUAL_DIR) or ""
    record = workdir / source_record.RECORD_FILE
    if manual_dir and Path(manual_dir).is_dir() and (not record.exists() or any(
            c[0] == MANUAL_DIR for c in changed)):
        source_record.write(workdir, manual_dir)


def check_workdir(workdir: str | Path, config: Mapping, *, allow_change: bool = False,
                  write: bool | None = None) -> list[tuple[str, Any, Any]]:
    """Compares `config` (plain data) with workdir/config.json and stores it there.

    Raises ConfigChangedError naming each differing field unless `allow_change`; with it, the
    change is appended to workdir/config_changes.jsonl. PATH_FIELDS changes are recorded there
    without being refused (a manual_dir only when its files are the same). Only process 0
    writes (`write` None); the others only compare. Returns the differences found.
    """
    if write is None:
        write = jax.process_index() == 0
    workdir = Path(workdir)
    path = workdir / CONFIG_FILE
    changed: list[tuple[str, Any, Any]] = []
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ConfigChangedError(f"{path} is not valid JSON ({e}); it records the config of "
                                     "the run in this workdir: repair it or use another "
                                     "--workdir") from e
        changed = differences(stored, config)
    refused = [_describe_change(c) for c in changed if c[0] not in PATH_FIELDS]
    moved = _manual_dir_moved(workdir, changed, config)
    if moved:
        refused.append(moved)
    if refused and not allow_change:
        raise ConfigChangedError(
            f"the config differs from the one this workdir was started with ({path}) in "
            f"{len(refused)} field(s): {'; '.join(refused)}. Use another --workdir, or pass "
            f"--allow_config_change to continue this run with the new config (recorded in "
            f"{workdir / CHANGES_FILE}).")
    if write:
        workdir.mkdir(parents=True, exist_ok=True)
        if changed:
            record = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"), "changes": [{"field": f, "old": o, "new": n}
                                                 for f, o, n in changed]}
            with (workdir / CHANGES_FILE).open("a") as f:
                f.write(json.dumps(record) + "\n")
        _write_manual_record(workdir, config, changed)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(config, indent=2))
        tmp.replace(path)
    return changed


def _describe_change(change: tuple[str, Any, Any]) -> str:
    field, old, new = change
    return f"{field}: {_short(old)} -> {_short(new)}"
