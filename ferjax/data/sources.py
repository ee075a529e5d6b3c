"""Random-access data sources: the configured dataset's splits, subsets and concatenations.

Every source is a grain RandomAccessDataSource (`__len__`, `__getitem__`) of record dicts as
described in docs/architecture.md.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np


class SubsetSource:
    """The records of `parent` at `indices`, in that order."""

    def __init__(self, parent, indices: Sequence[int]):
        self.parent = parent
        self.indices = np.asarray(indices, np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.parent[int(self.indices[i])]

    def field_values(self, key: str) -> np.ndarray:
        return field_values(self.parent, key)[self.indices]


class ConcatSource:
    """Several sources read as one, in order."""

    def __init__(self, parts: Sequence[Any]):
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        part = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return self.parts[part][i - int(self.offsets[part])]

    def field_values(self, key: str) -> np.ndarray:
        return np.concatenate([field_values(p, key) for p in self.parts])


class ListSource:
    """In-memory records (tests, small experiments)."""

    def __init__(self, records: Sequence[Mapping[str, Any]]):
        self.records = list(records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int):
        return self.records[i]


def field_values(source, key: str) -> np.ndarray:
    """One scalar field of every record (e.g. 'fold', 'label', 'subject_id'), shape (N,).

    Sources that can answer without decoding images (a `field_values(key)` method) do so.
    """
    if hasattr(source, "field_values"):
        return np.asarray(source.field_values(key), np.int64)
    return np.array([int(source[i][key]) for i in range(len(source))], np.int64)


def open_split(data_cfg: Mapping[str, Any], split: str):
    """The source of one split ('train', 'validation', 'test', or 'a+b') of the dataset."""
    parts = [_open_single_split(data_cfg, s.strip()) for s in split.split("+")]
    return parts[0] if len(parts) == 1 else ConcatSource(parts)


def _open_single_split(data_cfg: Mapping[str, Any], split: str):
    kind = data_cfg["source"]
    if kind == "tfds":
        builder = _tfds_builder(data_cfg)
        check_prepared_shards(builder, split)
        return builder.as_data_source(split)
    if kind == "fersynth_live":
        from ferjax import synth
        return synth.FERSynthSource(_synth_config(data_cfg), seed=data_cfg["seed"],
                                    num_examples=None, split=split)
    if kind == "memory":
        return data_cfg["records"][split]
    raise ValueError(f"config.data.source={kind!r}; expected 'tfds', 'fersynth_live' or 'memory'")


class DamagedPreparedDataError(RuntimeError):
    """A prepared dataset file is damaged (truncated, overwritten)."""


def check_prepared_shards(builder, split: str) -> None:
    """Every array_record shard of `split` holds the number of records its dataset_info.json
    says, else DamagedPreparedDataError naming the file and how to rebuild the dataset.

    Reading the shards' own index costs a few reads per file; without it a truncated shard
    fails only when training first reaches one of its records, deep in an input worker.
    """
    from array_record.python import array_record_module

    info = builder.info.splits[split]
    for path, expected in zip(info.filepaths, info.shard_lengths):
        try:
            found = array_record_module.ArrayRecordReader(str(path)).num_records()
            problem = "" if found == expected else f"holds {found} of its {expected} records"
        except Exception as e:  # array_record raises bare RuntimeError/ValueError
            problem = f"cannot be read ({type(e).__name__}: {e})"
        if problem:
            raise DamagedPreparedDataError(
                f"{path} {problem}: the prepared {builder.name} dataset is damaged. Delete "
                f"{builder.data_dir} and rerun the same command, which prepares it again "
                "(from config.data.manual_dir for a real dataset).")


def _synth_config(data_cfg):
    from ferjax import synth
    return synth.preset(data_cfg["config"], **dict(data_cfg.get("builder_kwargs", {}) or {}))


def _tfds_builder(data_cfg):
    import tensorflow_datasets as tfds

    from ferjax.data import builders, source_record

    cls = builders.builder_class(data_cfg["name"])
    kwargs = dict(data_cfg.get("builder_kwargs", {}) or {})
    builder = cls(config=data_cfg["config"] or None, data_dir=data_cfg.get("data_dir") or None,
                  **kwargs)
    manual_dir = data_cfg.get("manual_dir") or None
    if not builder.is_prepared():
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    elif manual_dir:
        source_record.check(builder.data_path, manual_dir)
    return builder
