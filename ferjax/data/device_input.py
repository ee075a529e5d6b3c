"""Device-resident training input: the decoded training split lives on the accelerators and
each global batch is drawn and augmented inside jit.

    placement = choose_placement(data, config.data)           # "device" | "host"
    resident = place(data, config.data.augment, mesh)          # once, before training
    batch = train_batch(resident, data_key, step, batch_size=B)  # inside the jitted step

The batches have the host pipeline's semantics (ferjax.data.pipeline.train_dataset): an
endless stream of epochs, each a permutation of the M training elements, cut into global
batches of B (a batch may straddle two epochs). Stream position p = step·B + j is element
perm_e[p mod M] of epoch e = p // M, with perm_e = permutation(fold_in(shuffle key, e)); its
augmentation decisions are drawn from fold_in(augment key, p). A batch is therefore a pure
function of (key, step): resuming at a step gives exactly the batches an uninterrupted run
gets, and it is the same for any number of devices or processes. The permutations differ
from grain's and the decisions come from jax.random rather than numpy, so the two paths see
different random draws with the same distributions; given the same decisions
(`augment_rows`) they produce the same batches (float32 rounding aside).

Layout: rows are replicated on every device by default. The per-step gather by a global
permutation is then local to each device and each device gathers and augments only its
rows of the batch; a data-sharded layout ("sharded") stores 1/D of the rows per device but
makes every step's gather a cross-device collective (compiled for 8 devices, batch 256 of
48×48 grey: no collective at all replicated; sharded, an all-reduce of the whole uint8
batch plus index all-gathers every step). FER datasets are tens to hundreds of
MB decoded (FER-2013: 66 MB), small next to accelerator memory, so the memory saved by
sharding is not worth a collective per step. Both layouts give identical batches.

Balanced sampling (config.data.class_sampling balance/imbalance) is a fixed plan: each
distinct original record is one row, each augmented replica (a deterministic function of
the plan's seed and index) is decoded once into its own row, and `order` (M,) maps the
elements of an epoch to rows; the epoch permutation permutes elements, as on the host.
Sources that render new examples every epoch (FERAtt's per_epoch composites, FERAtt's
class-cycle sampler) have no fixed rows: they stay on the host.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping

import flax
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from ferjax import ibug68
from ferjax.data import balance, pipeline

PLACEMENTS = ("auto", "device", "host")
LAYOUTS = ("replicated", "sharded")
# Per device, in MB of 10^6 bytes. Holds every FER dataset here at its native size but
# AffectNet (FER-2013 66 MB, RAF-DB 100×100 RGB 0.5 GB) and stays a small share of a
# 16 GB accelerator, leaving the rest to the model, its activations and optimiser state.
DEFAULT_BUDGET_MB = 2048.0
_GREY = (0.299, 0.587, 0.114)  # ITU-R 601, as pipeline.to_channels


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """The static part of the augmentation (config.data.augment plus the example spec)."""

    stored_hw: tuple[int, int]       # rows' image size, pixels
    crop_size: tuple[int, int]
    channels: int
    flip: bool
    random_crop: bool
    brightness: float = 0.0
    contrast: tuple[float, float] = (1.0, 1.0)
    photometric_space: str = "pixels"

    @property
    def uses_brightness(self) -> bool:
        return bool(self.brightness)

    @property
    def uses_contrast(self) -> bool:
        return tuple(self.contrast) != (1.0, 1.0)


@flax.struct.dataclass
class Resident:
    """The training split on the devices.

    rows: {key: (R, ...)} one row per distinct element: image uint8 (H, W, C) (float32 in
      [0, 1] when the source gives float images, e.g. config.data.noise_sigma > 0), label int32
      (the experiment's class id), and the run's extra keys (mask as stored, face uint8,
      landmarks float32 (68, 2) pixels, others float32).
    order: (M,) int32 row of each training element; M = len(data.train).
    mean, std: float32 normalisation, (C,) per channel or (h, w, C) per pixel.
    """

    rows: dict
    order: jax.Array
    mean: jax.Array
    std: jax.Array
    config: AugmentConfig = flax.struct.field(pytree_node=False)
    batch_sharding: Any = flax.struct.field(pytree_node=False, default=None)

    @property
    def num_elements(self) -> int:
        return int(self.order.shape[0])


# ---------------------------------------------------------------------------------------------
# Which elements a split has, and choosing a placement.

@dataclasses.dataclass(frozen=True)
class RowPlan:
    """reads: [(source, indices)] whose records, in order, are the rows; order: (M,) row of
    each element."""

    reads: tuple
    order: np.ndarray

    @property
    def num_rows(self) -> int:
        return int(sum(len(i) for _, i in self.reads))


def row_plan(source) -> RowPlan:
    """The distinct rows of a training source and each element's row (see module docstring)."""
    if isinstance(source, balance.ResampledMapDataset):
        index, replica = source.plan
        copies = (replica > 0) if source.augments_replicas else np.zeros(len(index), bool)
        originals = np.unique(index[~copies])
        order = np.empty(len(index), np.int64)
        order[~copies] = np.searchsorted(originals, index[~copies])
        order[copies] = len(originals) + np.arange(int(copies.sum()))
        return RowPlan(((source.records, originals), (source, np.flatnonzero(copies))),
                       order.astype(np.int32))
    return RowPlan(((source, np.arange(len(source))),), np.arange(len(source), dtype=np.int32))


def renders_per_epoch(source) -> bool:
    """Whether a source draws new examples every epoch (read as epoch_item(index, epoch))."""
    return bool(getattr(source, "per_epoch", False))


def _row_arrays(record: Mapping[str, Any], spec: pipeline.ExampleSpec) -> dict[str, np.ndarray]:
    """One record as the arrays a row stores (before any float conversion the device does)."""
    image = np.asarray(record["image"])
    out = {"image": _stored_image(image),
           "label": np.int32(spec.label_table[int(record["label"])])}
    for key in spec.keys:
        value = spec.extra_value(record, key)
        if key == "face":
            out[key] = _stored_image(value)
        elif key == "mask":
            out[key] = value if value.dtype == np.uint8 else value.astype(np.float32)
        else:
            out[key] = value.astype(np.float32)
    return out


def _stored_image(image: np.ndarray) -> np.ndarray:
    image = image[..., None] if image.ndim == 2 else image
    return image if image.dtype == np.uint8 else image.astype(np.float32)


def resident_nbytes(data: pipeline.Data) -> int:
    """Bytes the training split takes on each device once placed (rows from the first
    record's sizes, plus the element order)."""
    plan = row_plan(data.train)
    first = _row_arrays(data.train[0], data.spec)
    per_row = sum(np.asarray(v).nbytes for v in first.values())
    return plan.num_rows * per_row + 4 * len(plan.order)


def _split_name(data_cfg: Mapping[str, Any]) -> str:
    fold = int(data_cfg.get("fold", -1))
    if fold >= 0:
        return f"{data_cfg.get('cv_split', '')!s} without fold {fold}"
    return str(data_cfg.get("train_split", "train"))


def choose_placement(data: pipeline.Data, data_cfg: Mapping[str, Any],
                     platform: str | None = None) -> str:
    """"device" or "host" for the training split, from config.data.placement.

    platform: the backend (default jax.default_backend()). On "cpu", "auto" is "host": there
    the host path's prefetch threads overlap the input with the step, while resident batches
    are drawn inside the step on the same cores (measured: the default Sun job trained at
    19-21 img/s resident against 40 img/s on the host path).
    "auto" (default) on an accelerator picks "device" when the split's decoded rows fit
    config.data.device_budget_mb (per device, MB of 10^6 bytes; default DEFAULT_BUDGET_MB)
    and the source has fixed rows; sources that render anew each epoch (per_epoch
    composites, the class-cycle sampler) stay on the host. "device" forces the device and
    raises when the split does not fit or renders per epoch; "host" forces the host.
    """
    placement = data_cfg.get("placement", "auto")
    if placement not in PLACEMENTS:
        raise ValueError(f"config.data.placement={placement!r}; expected one of {PLACEMENTS}")
    if placement == "host":
        return "host"
    if placement == "auto" and (platform or jax.default_backend()) == "cpu":
        return "host"
    if renders_per_epoch(data.train):
        if placement == "device":
            raise ValueError(
                f"config.data.placement='device', but the training split "
                f"{_split_name(data_cfg)!r} renders new examples every epoch (per_epoch "
                "composites or class_cycle sampling): it has no fixed rows to place; use "
                "placement 'host' or 'auto'")
        return "host"
    budget = float(data_cfg.get("device_budget_mb", DEFAULT_BUDGET_MB))
    size_mb = resident_nbytes(data) / 1e6
    if size_mb <= budget:
        return "device"
    if placement == "device":
        raise ValueError(
            f"config.data.placement='device', but the training split {_split_name(data_cfg)!r} "
            f"takes {size_mb:.4g} MB decoded, more than config.data.device_budget_mb="
            f"{budget:g} MB; raise the budget or use placement 'host' or 'auto'")
    return "host"


# ---------------------------------------------------------------------------------------------
# Placement.

def decode_rows(plan: RowPlan, spec: pipeline.ExampleSpec) -> dict[str, np.ndarray]:
    """Every row of `plan` decoded and stacked: {key: (R, ...)} numpy arrays."""
    rows = [_row_arrays(src[int(i)], spec) for src, indices in plan.reads for i in indices]
    shapes = {k: {r[k].shape for r in rows} for k in rows[0]}
    ragged = {k: sorted(s) for k, s in shapes.items() if len(s) > 1}
    if ragged:
        raise ValueError(f"device-resident input needs records of one size; the training "
                         f"split has several: {ragged} (use config.data.placement='host')")
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def _put(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
    # From the callback each process places only its devices' parts (multi-process safe).
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def _pad_rows(array: np.ndarray, multiple: int) -> np.ndarray:
    extra = -len(array) % multiple
    if not extra:
        return array
    return np.concatenate([array, np.zeros((extra, *array.shape[1:]), array.dtype)])


def augment_config(augment_cfg: Mapping[str, Any], spec: pipeline.ExampleSpec,
                   stored_hw: tuple[int, int]) -> AugmentConfig:
    """config.data.augment (the fields of pipeline.TrainTransform) → AugmentConfig."""
    cfg = dict(augment_cfg)
    space = cfg.get("photometric_space", "pixels")
    if space not in pipeline.PHOTOMETRIC_SPACES:
        raise ValueError(f"config.data.augment.photometric_space={space!r}; expected one of "
                         f"{pipeline.PHOTOMETRIC_SPACES}")
    ch, cw = spec.crop_size
    if ch > stored_hw[0] or cw > stored_hw[1]:
        raise ValueError(f"config.data.crop_size=({ch}, {cw}) is larger than the stored image "
                         f"{tuple(stored_hw)}")
    return AugmentConfig(stored_hw=tuple(int(s) for s in stored_hw),
                         crop_size=(int(ch), int(cw)), channels=int(spec.channels),
                         flip=bool(cfg["flip"]), random_crop=bool(cfg["random_crop"]),
                         brightness=float(cfg.get("brightness", 0.0)),
                         contrast=tuple(float(c) for c in cfg.get("contrast", (1.0, 1.0))),
                         photometric_space=space)


def place(data: pipeline.Data, augment_cfg: Mapping[str, Any], mesh: jax.sharding.Mesh, *,
          layout: str = "replicated") -> Resident:
    """Decodes the training split once and puts it on the mesh's devices.

    Args:
      data: the run's pipeline.Data (its train source, spec and normalisation).
      augment_cfg: config.data.augment.
      mesh: the 1-D "data" mesh (ferjax.train.distributed.data_mesh()); its shardings are
        built here, as this layer may not import the trainer.
      layout: "replicated" (default; see the module docstring) or "sharded" over "data".
    Every process decodes the whole split and places its own devices' parts.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r}; expected one of {LAYOUTS}")
    if renders_per_epoch(data.train):
        raise ValueError("the training split renders new examples every epoch: it cannot be "
                         "placed on the devices (config.data.placement='host')")
    plan = row_plan(data.train)
    rows = decode_rows(plan, data.spec)
    cfg = augment_config(augment_cfg, data.spec, rows["image"].shape[1:3])
    replicated = NamedSharding(mesh, P())
    if layout == "sharded":
        row_sharding = NamedSharding(mesh, P("data"))
        rows = {k: _pad_rows(v, mesh.size) for k, v in rows.items()}
    else:
        row_sharding = replicated
    return Resident(rows={k: _put(v, row_sharding) for k, v in rows.items()},
                    order=_put(plan.order.astype(np.int32), replicated),
                    mean=_put(data.norm.mean_array, replicated),
                    std=_put(data.norm.std_array, replicated),
                    config=cfg, batch_sharding=NamedSharding(mesh, P("data")))


# ---------------------------------------------------------------------------------------------
# The batch of a step (all jittable; `resident` is an argument, never a closed-over constant).

def _keys(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(shuffle key, augment key) of a data key."""
    return jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)


def stream_positions(step, batch_size: int) -> jax.Array:
    """(B,) int32 global stream positions of step `step`'s batch (valid below 2^31)."""
    return jnp.asarray(step, jnp.int32) * batch_size + jnp.arange(batch_size, dtype=jnp.int32)


def element_indices(num_elements: int, shuffle_key: jax.Array, positions: jax.Array,
                    start) -> jax.Array:
    """(B,) int32 training element at each stream position: perm_e[p mod M], e = p // M.

    positions: one batch's consecutive positions, the first being `start` (a scalar, passed
    apart so a data-sharded `positions` needs no collective to find it). Only the
    B // M + 2 epochs they can touch are permuted.
    """
    m = num_elements
    span = positions.shape[0] // m + 2
    first = jnp.asarray(start, jnp.int32) // m
    epochs = first + jnp.arange(span, dtype=jnp.int32)
    perms = jax.vmap(lambda e: jax.random.permutation(jax.random.fold_in(shuffle_key, e), m)
                     )(epochs)
    return perms[positions // m - first, positions % m].astype(jnp.int32)


def draw_decisions(cfg: AugmentConfig, augment_key: jax.Array, positions: jax.Array) -> dict:
    """Each position's random choices, from fold_in(augment_key, position): {"top", "left"
    (B,) int32 crop offsets, "flip" (B,) bool, "brightness" (B,) float32 δ, "contrast" (B,)
    float32 f} (the fields of pipeline.Decisions; a switched-off augmentation gets its
    neutral value)."""
    h, w = cfg.stored_hw
    ch, cw = cfg.crop_size

    def one(position):
        k_top, k_left, k_flip, k_delta, k_factor = jax.random.split(
            jax.random.fold_in(augment_key, position), 5)
        if cfg.random_crop:
            top = jax.random.randint(k_top, (), 0, h - ch + 1)
            left = jax.random.randint(k_left, (), 0, w - cw + 1)
        else:
            top, left = jnp.int32((h - ch) // 2), jnp.int32((w - cw) // 2)
        flip = jax.random.uniform(k_flip) < 0.5 if cfg.flip else jnp.bool_(False)
        delta = (jax.random.uniform(k_delta, (), jnp.float32, -cfg.brightness, cfg.brightness)
                 if cfg.uses_brightness else jnp.float32(0.0))
        lo, hi = cfg.contrast
        factor = (jax.random.uniform(k_factor, (), jnp.float32, lo, hi)
                  if cfg.uses_contrast else jnp.float32(1.0))
        return {"top": top.astype(jnp.int32), "left": left.astype(jnp.int32), "flip": flip,
                "brightness": delta, "contrast": factor}

    return jax.vmap(one)(positions)


def stack_decisions(decisions) -> dict:
    """A sequence of pipeline.Decisions → the dict of (B,) arrays `augment_rows` takes."""
    return {"top": np.array([d.top for d in decisions], np.int32),
            "left": np.array([d.left for d in decisions], np.int32),
            "flip": np.array([d.flip for d in decisions], bool),
            "brightness": np.array([d.brightness for d in decisions], np.float32),
            "contrast": np.array([d.contrast for d in decisions], np.float32)}


def _to_channels(x: jax.Array, channels: int) -> jax.Array:
    f = x.astype(jnp.float32) / (255.0 if x.dtype == jnp.uint8 else 1.0)
    if f.shape[-1] == channels:
        return f
    if f.shape[-1] == 3 and channels == 1:
        return (f @ jnp.asarray(_GREY, jnp.float32))[..., None]
    if f.shape[-1] == 1 and channels == 3:
        return jnp.repeat(f, 3, axis=-1)
    raise ValueError(f"cannot convert a {f.shape[-1]}-channel image to config.data.channels="
                     f"{channels}")


def _crop_flip(x: jax.Array, d: dict, crop_size: tuple[int, int]) -> jax.Array:
    starts = (d["top"], d["left"]) + (0,) * (x.ndim - 2)
    out = jax.lax.dynamic_slice(x, starts, (*crop_size, *x.shape[2:]))
    return jnp.where(d["flip"], out[:, ::-1], out)


def _landmarks(lm: jax.Array, d: dict, crop_width: int) -> jax.Array:
    moved = lm - jnp.stack([d["left"], d["top"]]).astype(jnp.float32)
    mirrored = moved[ibug68.MIRROR]
    mirrored = mirrored.at[:, 0].set((crop_width - 1) - mirrored[:, 0])
    return jnp.where(d["flip"], mirrored, moved)


def _photometric(image: jax.Array, d: dict, cfg: AugmentConfig, clip: bool) -> jax.Array:
    out = image
    if cfg.uses_brightness:
        out = out + d["brightness"]
    if cfg.uses_contrast:
        mean = out.mean(axis=(0, 1), keepdims=True)
        out = (out - mean) * d["contrast"] + mean
    return jnp.clip(out, 0.0, 1.0) if clip else out


def _augment_one(row: dict, d: dict, mean: jax.Array, std: jax.Array,
                 cfg: AugmentConfig) -> dict:
    """One gathered row → the example pipeline.TrainTransform.apply makes with decisions d."""
    out = {"label": row["label"].astype(jnp.int32)}
    image = _crop_flip(_to_channels(row["image"], cfg.channels), d, cfg.crop_size)
    photometric = cfg.uses_brightness or cfg.uses_contrast
    if photometric and cfg.photometric_space == "pixels":
        image = _photometric(image, d, cfg, clip=True)
    image = (image - mean) / std
    if photometric and cfg.photometric_space == "standardised":
        image = _photometric(image, d, cfg, clip=False)
    out["image"] = image.astype(jnp.float32)
    for key, value in row.items():
        if key in ("image", "label"):
            continue
        if key == "face":
            out[key] = _crop_flip(_to_channels(value, cfg.channels), d, cfg.crop_size)
        elif key == "mask":
            scale = 255.0 if value.dtype == jnp.uint8 else 1.0
            out[key] = _crop_flip(value.astype(jnp.float32) / scale, d, cfg.crop_size)
        elif key == "landmarks":
            out[key] = _landmarks(value, d, cfg.crop_size[1])
        else:
            out[key] = value.astype(jnp.float32)
    out["weight"] = jnp.float32(1.0)
    return out


def augment_rows(resident: Resident, rows: jax.Array, decisions: Mapping[str, Any]) -> dict:
    """The batch of rows `rows` (B,) augmented with `decisions` (dict of (B,) arrays, see
    draw_decisions): {"image": (B, h, w, C) float32 normalised, "label": (B,) int32,
    "weight": (B,) float32 ones, + extra keys as pipeline.TrainTransform makes them}."""
    gathered = {k: jnp.take(v, rows, axis=0) for k, v in resident.rows.items()}
    decisions = {k: jnp.asarray(v) for k, v in decisions.items()}
    one = functools.partial(_augment_one, cfg=resident.config)
    return jax.vmap(one, in_axes=(0, 0, None, None))(gathered, decisions, resident.mean,
                                                     resident.std)


def _constrain(x, sharding):
    return x if sharding is None else jax.lax.with_sharding_constraint(x, sharding)


def train_batch(resident: Resident, key: jax.Array, step, *, batch_size: int) -> dict:
    """The global training batch of global step `step` (pure; jit with batch_size static).

    key: the run's data key (keep it, with the step, for an exact resume). Returns the dict of
    augment_rows, sharded over the data axis. Equal for any number of devices.
    """
    shuffle_key, augment_key = _keys(key)
    positions = _constrain(stream_positions(step, batch_size), resident.batch_sharding)
    elements = element_indices(resident.num_elements, shuffle_key, positions,
                               jnp.asarray(step, jnp.int32) * batch_size)
    rows = jnp.take(resident.order, elements, axis=0)
    decisions = draw_decisions(resident.config, augment_key, positions)
    batch = augment_rows(resident, rows, decisions)
    return {k: _constrain(v, resident.batch_sharding) for k, v in batch.items()}


def batch_elements(resident: Resident, key: jax.Array, step, *, batch_size: int) -> jax.Array:
    """(B,) int32 training element (index into data.train) of each example of step `step`'s
    batch; the rows train_batch reads are resident.order[elements]."""
    shuffle_key, _ = _keys(key)
    return element_indices(resident.num_elements, shuffle_key,
                           stream_positions(step, batch_size),
                           jnp.asarray(step, jnp.int32) * batch_size)


def batch_decisions(resident: Resident, key: jax.Array, step, *, batch_size: int) -> dict:
    """The decisions train_batch draws for step `step` (dict of (B,) arrays)."""
    _, augment_key = _keys(key)
    return draw_decisions(resident.config, augment_key, stream_positions(step, batch_size))
