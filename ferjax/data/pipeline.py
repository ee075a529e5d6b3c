"""The grain input pipeline: records -> augmented, normalised, batched, per-process examples.

train: source -> (this process's shard) -> shuffle (reshuffled every epoch) -> repeat ->
       random crop + flip (+ brightness/contrast) -> normalise (per channel or per pixel;
       brightness/contrast after it with augment.photometric_space="standardised") ->
       batch(local batch size). Sources that draw anew each epoch (per_epoch) are read as
       epoch_item(index, epoch).
eval:  source -> (this process's shard) -> centre crop -> normalise -> fixed-size batches, the
       last one padded with weight-0 examples so every example counts exactly once.
Augmentation randomness comes from grain's per-element seeds, so a resumed iterator yields
exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Iterator, Mapping, Sequence

import grain
import numpy as np
from absl import logging

from ferjax import labels
from ferjax.data import augment, class_sampling, sources, splits, validation


@dataclasses.dataclass(frozen=True)
class Normalisation:
    """Mean and standard deviation of training images in [0, 1] units: per channel (C,), or
    per pixel (H, W, C) as nested tuples (EmotionalDAN's code z-scores with a mean and a std
    image)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    # Converted once: a per-pixel mean is 224·224 nested floats, whose conversion on every
    # example cost 20 ms, most of the host pipeline's time.
    @functools.cached_property
    def mean_array(self) -> np.ndarray:
        return np.asarray(self.mean, np.float32)

    @functools.cached_property
    def std_array(self) -> np.ndarray:
        return np.asarray(self.std, np.float32)

    def apply(self, image: np.ndarray) -> np.ndarray:
        return ((image - self.mean_array) / self.std_array).astype(np.float32)

    def invert(self, image: np.ndarray) -> np.ndarray:
        return image * self.std_array + self.mean_array


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """uint8/float (H, W, C) -> float32 (H, W, channels) in [0, 1]; RGB -> grey by ITU-R 601."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    x = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    if x.shape[-1] == channels:
        return x
    if x.shape[-1] == 3 and channels == 1:
        return (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    if x.shape[-1] == 1 and channels == 3:
        return np.repeat(x, 3, axis=-1)
    raise ValueError(f"cannot convert a {x.shape[-1]}-channel image to config.data.channels="
                     f"{channels}")


@dataclasses.dataclass(frozen=True)
class ExampleSpec:
    """What the model sees: crop size, channels, label map and which optional keys to keep."""

    crop_size: tuple[int, int]
    channels: int
    label_table: tuple[int, ...]
    keys: tuple[str, ...] = ()

    @staticmethod
    def extra_value(record: Mapping[str, Any], key: str) -> np.ndarray:
        """record[key] (a config.data.extra_keys entry) as an array; KeyError naming the
        field and the keys the records have when it is missing."""
        if key not in record:
            raise KeyError(f"config.data.extra_keys asks for {key!r} but the dataset's "
                           f"records have only {sorted(record)}")
        return np.asarray(record[key])

    def prepare(self, record: Mapping[str, Any]) -> dict:
        """Record -> float example (before cropping) with only the keys the run uses."""
        out = {"image": to_channels(record["image"], self.channels),
               "label": np.int32(self.label_table[int(record["label"])])}
        for key in self.keys:
            value = self.extra_value(record, key)
            if key == "mask":
                value = value.astype(np.float32) / (255.0 if value.dtype == np.uint8 else 1.0)
            elif key == "face":
                value = to_channels(value, self.channels)
            out[key] = value.astype(np.float32)
        return out


def _contiguous(example: dict) -> dict:
    # Flips leave negative strides; batching wants plain arrays. (np.ascontiguousarray would
    # turn scalars into shape (1,), hence the ndim check.)
    return {k: np.ascontiguousarray(v) if np.ndim(v) else v for k, v in example.items()}


# Where brightness/contrast act: on [0, 1] pixels before standardising (then clipped), or on
# the standardised image (EmotionalDAN's code: ±0.3 in z-score units, no clipping).
PHOTOMETRIC_SPACES = ("pixels", "standardised")
# In-process reading (workers = 0): threads and buffered batches of grain's reader.
READ_THREADS = 8
READ_BUFFER = 8


@dataclasses.dataclass(frozen=True)
class Decisions:
    """One training example's random choices, kept apart from their application so the host
    and the device-resident input (ferjax.data.device_input) can be fed the same ones.

    top, left: crop offset in pixels of the stored image; flip: mirror left-right;
    brightness: shift δ (image units of the photometric space); contrast: factor f.
    """

    top: int
    left: int
    flip: bool
    brightness: float = 0.0
    contrast: float = 1.0


class TrainTransform(grain.transforms.RandomMap):
    """Random crop, horizontal flip, brightness/contrast, normalisation (one example)."""

    def __init__(self, spec: ExampleSpec, norm: Normalisation, flip: bool, random_crop: bool,
                 brightness: float = 0.0, contrast: tuple[float, float] = (1.0, 1.0),
                 photometric_space: str = "pixels"):
        if photometric_space not in PHOTOMETRIC_SPACES:
            raise ValueError(f"config.data.augment.photometric_space={photometric_space!r}; "
                             f"expected one of {PHOTOMETRIC_SPACES}")
        self.spec, self.norm, self.flip, self.random_crop = spec, norm, flip, random_crop
        self.brightness, self.contrast = brightness, tuple(contrast)
        self.photometric_space = photometric_space

    @property
    def uses_brightness(self) -> bool:
        return bool(self.brightness)

    @property
    def uses_contrast(self) -> bool:
        return self.contrast != (1.0, 1.0)

    def decide(self, image_hw: tuple[int, int], rng: np.random.Generator) -> Decisions:
        """The random choices for one stored image of size image_hw (crop offsets, then the
        flip, then δ and f: the order the draws have always had, so seeds keep their batches)."""
        h, w = self.spec.crop_size
        if self.random_crop:
            top, left = augment.random_crop_offsets(image_hw, h, w, rng)
        else:
            top, left = augment.center_crop_offsets(image_hw, h, w)
        flip = bool(self.flip and rng.random() < 0.5)
        delta, factor = augment.draw_brightness_contrast(rng, self.brightness, self.contrast)
        return Decisions(top, left, flip, delta, factor)

    def apply(self, x: dict, d: Decisions) -> dict:
        """A prepared example (ExampleSpec.prepare) cropped, flipped, photometrically changed
        and normalised as `d` says; adds weight 1."""
        x = augment.crop(x, d.top, d.left, *self.spec.crop_size)
        if d.flip:
            x = augment.horizontal_flip(x)
        photometric = self.uses_brightness or self.uses_contrast
        if photometric and self.photometric_space == "pixels":
            x["image"] = augment.apply_brightness_contrast(
                x["image"], d.brightness, d.contrast, self.uses_brightness, self.uses_contrast)
        x["image"] = self.norm.apply(np.ascontiguousarray(x["image"]))
        if photometric and self.photometric_space == "standardised":
            x["image"] = augment.apply_brightness_contrast(
                x["image"], d.brightness, d.contrast, self.uses_brightness, self.uses_contrast,
                clip=False)
        x["weight"] = np.float32(1.0)
        return _contiguous(x)

    def random_map(self, record, rng: np.random.Generator):
        x = self.spec.prepare(record)
        return self.apply(x, self.decide(x["image"].shape[:2], rng))


class EvalTransform(grain.transforms.Map):
    """Centre crop and normalisation (one example)."""

    def __init__(self, spec: ExampleSpec, norm: Normalisation):
        self.spec, self.norm = spec, norm

    def map(self, record):
        x = augment.center_crop(self.spec.prepare(record), *self.spec.crop_size)
        x["image"] = self.norm.apply(x["image"])
        x["weight"] = np.float32(1.0)
        return _contiguous(x)


def labelled_indices(source, label_table: Sequence[int]) -> np.ndarray:
    """Indices of records whose label is kept by the label map (dropped classes map to -1)."""
    table = np.asarray(label_table)
    kept = table[sources.field_values(source, "label")] >= 0
    return np.flatnonzero(kept)


NORMALISATIONS = ("per_channel", "per_pixel")


def estimate_normalisation(source, spec: ExampleSpec, max_examples: int,
                           kind: str = "per_channel") -> Normalisation:
    """Mean/std over the first `max_examples` records, centre-cropped, in [0, 1]: per channel,
    or per pixel of the crop (`kind="per_pixel"`; std floored at 1e-6 where a pixel is
    constant)."""
    if kind not in NORMALISATIONS:
        raise ValueError(f"config.data.normalisation={kind!r}; expected one of {NORMALISATIONS}")
    n = min(len(source), max_examples)
    if n == 0:
        raise ValueError("the training split is empty: nothing to estimate statistics from")
    axes = (0, 1) if kind == "per_channel" else ()
    total = total_sq = 0.0
    count = 0
    for i in range(n):
        img = augment.center_crop(spec.prepare(source[i]), *spec.crop_size)["image"]
        img = img.astype(np.float64)
        total = total + img.sum(axis=axes)
        total_sq = total_sq + np.square(img).sum(axis=axes)
        count += img.shape[0] * img.shape[1] if axes else 1
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 1e-12))
    if kind == "per_channel":
        return Normalisation(tuple(float(m) for m in mean), tuple(float(s) for s in std))
    std = np.maximum(std, 1e-6)
    return Normalisation(_nested(mean), _nested(std))


def _nested(array: np.ndarray):
    return tuple(_nested(a) for a in array) if array.ndim else float(array)


def mean_landmarks(source, spec: ExampleSpec, max_examples: int) -> np.ndarray | None:
    """Mean (68, 2) landmark shape of training records in the centre-cropped frame, or None."""
    shapes = []
    for i in range(min(len(source), max_examples)):
        record = source[i]
        if "landmarks" not in record:
            return None
        lm = np.asarray(record["landmarks"], np.float32)
        if np.all(np.isfinite(lm)):
            h, w = np.asarray(record["image"]).shape[:2]
            ch, cw = spec.crop_size
            shapes.append(lm - np.array([(w - cw) // 2, (h - ch) // 2], np.float32))
    return np.mean(shapes, axis=0) if shapes else None


class _ProcessShare(grain.MapDataset):
    """This process's rows of every global batch of an (endless) example stream.

    Element j is global element (j // b)·B + p·b + (j % b) with b the local and B the global
    batch size, so the global batches are the same whatever the number of processes (a run on
    two hosts reproduces a run on one), and each process reads and augments only its rows.
    """

    def __init__(self, parent: grain.MapDataset, local_batch_size: int, process_index: int,
                 process_count: int):
        super().__init__(parent)
        self._b, self._p, self._n = local_batch_size, process_index, process_count

    def __len__(self) -> int:
        return len(self._parent) // self._n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.slice(index)
        row, col = divmod(index, self._b)
        return self._parent[row * self._b * self._n + self._p * self._b + col]

    def __str__(self) -> str:
        return f"ProcessShare(p={self._p}/{self._n}, local_batch={self._b})"


# Auto worker count: one process per core but the training process's own, at most this many
# (each worker is a Python process holding its own copy of the pipeline).
MAX_AUTO_WORKERS = 32


def resolve_workers(workers: int, cpu_count: int | None = None) -> int:
    """config.data.workers → grain worker processes for the training input.

    workers ≥ 0 is taken as given (0 = read and augment in the training process). -1 (auto):
    cpu_count − 1 (the training process keeps a core to dispatch steps), at most
    MAX_AUTO_WORKERS, and 0 on machines of 2 cores or fewer, where a worker would only compete
    with the step for a core. cpu_count defaults to allocated_cpus(): the process's allocation,
    not the node's core count.
    """
    workers = int(workers)
    if workers >= 0:
        return workers
    if workers != -1:
        raise ValueError(f"config.data.workers={workers}; expected -1 (auto), 0 (in-process) "
                         "or a positive number of worker processes")
    cpus = int(cpu_count or allocated_cpus())
    return 0 if cpus <= 2 else min(cpus - 1, MAX_AUTO_WORKERS)


def allocated_cpus(environ=None) -> int:
    """CPUs this process may use: its affinity mask (what taskset, cgroups cpusets and SLURM's
    task binding leave it), and at most SLURM_CPUS_PER_TASK when SLURM set it (a job step
    without binding still sees the whole node in its mask)."""
    environ = os.environ if environ is None else environ
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call on this platform (macOS)
        cpus = os.cpu_count() or 1
    slurm = str(environ.get("SLURM_CPUS_PER_TASK", "")).strip()
    if slurm.isdigit() and int(slurm) > 0:
        cpus = min(cpus, int(slurm))
    return max(1, cpus)


def _absl_flags_ready() -> None:
    # grain's worker processes read absl flags; launch.py parses them, a library caller
    # (tests, benchmarks, notebooks) may not have: their defaults are then what holds.
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def train_dataset(source, transform: TrainTransform, *, seed: int, local_batch_size: int,
                  process_index: int = 0, process_count: int = 1, workers: int = 0,
                  prefetch_batches: int = 2) -> grain.IterDataset:
    """Endless, reshuffled-per-epoch, augmented batches for this process (a grain IterDataset).

    A source with a true `per_epoch` attribute is read through `epoch_item(index, epoch)`.

    Augmentation seeds follow the global stream position, so they too are independent of the
    number of processes. workers > 0 reads and augments whole batches in that many worker
    processes (grain mp_prefetch: worker k makes batches k, k + workers, ..., taken in turn,
    so the batches are those of workers=0); prefetch_batches > 0 keeps that many finished
    batches ready in a background thread. The iterator's state (grain.checkpoint) still
    restores exactly; a state saved with w workers restores with w workers.
    """
    if len(source) == 0:
        raise ValueError("the training split is empty")
    if workers < 0:
        raise ValueError(f"workers={workers} must be >= 0 (see resolve_workers)")
    if getattr(source, "per_epoch", False):
        # Sources that draw a new example per epoch (FERAtt's composites) are read by
        # (index, epoch); the shuffle is the same as for a plain source of that length.
        n = len(source)
        ds = (grain.MapDataset.range(n).seed(seed).shuffle().repeat()
              .map_with_index(lambda position, i: source.epoch_item(i, position // n)))
    else:
        ds = grain.MapDataset.source(source).seed(seed).shuffle().repeat()
    ds = ds.random_map(transform)
    if process_count > 1:
        ds = _ProcessShare(ds, local_batch_size, process_index, process_count)
    batches = ds.batch(local_batch_size, drop_remainder=True)
    if workers == 0:
        # Threads overlap the source's reads (decompression releases the GIL); the buffer is
        # in batches, so it is kept small (grain's default of 500 would hold 500 batches).
        out = batches.to_iter_dataset(grain.ReadOptions(num_threads=READ_THREADS,
                                                        prefetch_buffer_size=READ_BUFFER))
    else:
        _absl_flags_ready()
        # One reading thread per worker: the work is Python-bound, the processes are the
        # parallelism.
        out = batches.to_iter_dataset(grain.ReadOptions(num_threads=1,
                                                        prefetch_buffer_size=READ_BUFFER))
        out = out.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers,
                                                           per_worker_buffer_size=2))
    if prefetch_batches:
        out = grain.experimental.ThreadPrefetchIterDataset(
            out, prefetch_buffer_size=prefetch_batches)
    return out


def eval_batches(source, transform: EvalTransform, *, local_batch_size: int,
                 process_index: int = 0, process_count: int = 1) -> Iterator[dict]:
    """Fixed-size local batches covering this process's shard once; padding has weight 0.

    Every process yields the same number of batches (ceil(N / (P·b))) so that the global
    batches line up across processes.
    """
    n = len(source)
    per_process = -(-n // process_count)
    num_batches = max(1, -(-per_process // local_batch_size))
    mine = list(range(process_index, n, process_count))
    template = None
    for b in range(num_batches):
        chunk = [transform.map(source[i]) for i in
                 mine[b * local_batch_size:(b + 1) * local_batch_size]]
        if template is None:
            template = chunk[0] if chunk else transform.map(source[0])
        while len(chunk) < local_batch_size:
            pad = {k: np.zeros_like(v) for k, v in template.items()}
            chunk.append(pad)
        yield {k: np.stack([c[k] for c in chunk]) for k in template}


@dataclasses.dataclass
class Data:
    """Everything the trainer needs from the data side."""

    train: Any                 # RandomAccessDataSource of records
    eval: Any
    spec: ExampleSpec
    norm: Normalisation
    info: dict                 # num_classes, class_names, image_shape, mean_landmarks, sizes
    validation: Any = None     # the model-selection split's records, or None (no selection)


def build_data(data_cfg: Mapping[str, Any], *, seed: int) -> Data:
    """Opens the configured splits (or a cross-validation fold) and derives statistics."""
    label_table = tuple(int(v) for v in labels.label_map_table(data_cfg["label_space"]))
    class_names = tuple(labels.label_space_classes(data_cfg["label_space"]))
    spec = ExampleSpec(crop_size=tuple(data_cfg["crop_size"]), channels=int(data_cfg["channels"]),
                       label_table=label_table, keys=tuple(data_cfg.get("extra_keys", ())))
    if spec.channels not in (1, 3):
        raise ValueError(f"config.data.channels must be 1 or 3, got {spec.channels}")
    train_src, eval_src = splits.train_eval_sources(data_cfg)
    # Model selection's split (ferjax.data.validation); None unless config.data asks for one.
    train_src, val_src = validation.split_validation(data_cfg, train_src, seed=seed)
    train_src = sources.SubsetSource(train_src, labelled_indices(train_src, label_table))
    eval_src = sources.SubsetSource(eval_src, labelled_indices(eval_src, label_table))
    dedup_dropped = 0
    if data_cfg.get("dedup", False):
        from ferjax.data.dedup import without_eval_copies
        train_src, dedup_dropped = without_eval_copies(train_src, eval_src)
        if val_src is not None:  # nor may a copy of a validation image steer model selection
            train_src, dropped = without_eval_copies(train_src, val_src)
            dedup_dropped += dropped
        logging.info("config.data.dedup: dropped %d training images identical to evaluation "
                     "or validation images", dedup_dropped)
    # FERAtt's renderer; no-op unless config.data.composite asks for it.
    from ferjax.data.composite.sources import composite_sources
    train_src, eval_src = composite_sources(data_cfg, train_src, eval_src, seed=seed)
    # FERAtt's noise-robustness protocol (noisy training and test sets); no-op at σ = 0.
    from ferjax.data.noise import noisy_sources
    train_src, eval_src = noisy_sources(data_cfg, train_src, eval_src, seed=seed)
    if val_src is not None:  # read as evaluation records are (fixed composites, noise)
        val_src = sources.SubsetSource(val_src, labelled_indices(val_src, label_table))
        val_src = noisy_sources(data_cfg, *composite_sources(data_cfg, val_src, val_src,
                                                             seed=seed), seed=seed)[1]
        if len(val_src) == 0:
            raise ValueError("the validation split is empty after the label map "
                             "(config.data.validation_split / validation_fraction)")
    if len(train_src) == 0 or len(eval_src) == 0:
        raise ValueError(f"empty split after the label map: train={len(train_src)}, "
                         f"eval={len(eval_src)} (config.data)")
    n_stats = int(data_cfg.get("stats_examples", 1024))
    norm = estimate_normalisation(train_src, spec, n_stats,
                                  data_cfg.get("normalisation", "per_channel"))
    landmarks_mean = mean_landmarks(train_src, spec, n_stats)
    # After the statistics (they describe the records; a re-sampled set is class-major).
    train_src = class_sampling.resample_training_classes(
        train_src, data_cfg.get("class_sampling"), seed=seed, label_table=label_table)
    info = {"num_classes": len(class_names), "class_names": class_names,
            "image_shape": (*spec.crop_size, spec.channels), "train_size": len(train_src),
            "eval_size": len(eval_src), "mean_landmarks": landmarks_mean,
            "validation_size": 0 if val_src is None else len(val_src)}
    if data_cfg.get("dedup", False):
        info["dedup_dropped"] = dedup_dropped  # lands in data_stats.json
    return Data(train=train_src, eval=eval_src, spec=spec, norm=norm, info=info,
                validation=val_src)
