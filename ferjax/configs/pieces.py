"""Shared pieces experiment configs are composed from: base, data, schedules, argument parsing.

A config file's `get_config(arg)` receives the text after ':' in
`--config=configs/x.py:key=value,flag` and parses it with `parse_arg`.
"""

from __future__ import annotations

from typing import Any, Mapping

import ml_collections as mlc


def parse_arg(arg: str | None, defaults: Mapping[str, Any]) -> mlc.ConfigDict:
    """'a=1,b=x,flag' -> ConfigDict(defaults updated), typed like the defaults.

    A bare word sets a boolean default to True. Unknown keys raise, naming the key and the
    accepted ones.
    """
    values = dict(defaults)
    for item in filter(None, (arg or "").split(",")):
        key, _, raw = item.partition("=")
        key = key.strip()
        if key not in values:
            raise ValueError(f"unknown config argument {key!r}; accepted: {sorted(values)}")
        default = values[key]
        if not _:
            if not isinstance(default, bool):
                raise ValueError(f"config argument {key!r} needs a value ({key}=...)")
            values[key] = True
        elif isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"config argument {key}={raw!r} is not a boolean")
            values[key] = raw.lower() in ("true", "1")
        elif isinstance(default, int):
            values[key] = int(raw)
        elif isinstance(default, float):
            values[key] = float(raw)
        else:
            values[key] = raw
    return mlc.ConfigDict(values)


def base() -> mlc.ConfigDict:
    """Fields every experiment has; experiments fill in model, data, losses."""
    c = mlc.ConfigDict()
    c.seed = 0
    c.protocol = "holdout"          # a runner of ferjax.runs: holdout | kfold | stagewise
    c.model = mlc.ConfigDict({"name": ""})
    c.losses = mlc.ConfigDict({"emotion_ce": {"weight": 1.0, "label_smoothing": 0.0}})
    c.train = mlc.ConfigDict({
        "batch_size": 32,
        "num_steps": 0,             # > 0 overrides num_epochs
        "num_epochs": 10.0,
        "log_every": 50,
        "eval_every": 0,            # steps; 0: at the end (every epoch with a validation
                                    # split); -1: every epoch
        # Model selection on config.data's validation split (ferjax.train.selection): the best
        # checkpoint by metric (a scalar of the evaluation: accuracy, macro_f1, loss,
        # loss/<term>), mode max|min; patience > 0 stops after that many evaluations without
        # improvement.
        "select": {"metric": "accuracy", "mode": "max", "patience": 0},
        "checkpoint_every": 500,
        "keep_checkpoints": 3,
        "trainable": "",            # regex over parameter paths; "" trains everything
        "steps_per_call": 1,        # steps per jitted call (a lax.scan); divides the *_every
        "compute_dtype": "float32",  # or "bfloat16": forward/backward in bf16, state in f32
        "optimizer": {"name": "adam", "b1": 0.9, "b2": 0.999, "eps": 1e-8,
                      "grad_clip_norm": 0.0},
        "schedule": {"kind": "constant", "lr": 1e-3},
        "ema_decay": 0.0,           # > 0: EMA of the weights, used for evaluation (train/ema.py)
    })
    # tta: test-time augmentation of every evaluation, "none" | "flip" | "ten_crop"
    # (ferjax.evaluation.tta; ten_crop needs stored images larger than config.data.crop_size).
    c.eval = mlc.ConfigDict({"batch_size": 64, "tta": "none"})
    # Run after training on the final model(s), each writing its own files into the workdir
    # (ferjax.runs.evaluators): {name: {"type": ..., **options}}.
    c.evals = mlc.ConfigDict({"classification": {"type": "classification"},   # results.json
                              "figures": {"type": "figures"}})
    return c


def model(name: str, **differs) -> mlc.ConfigDict:
    """config.model of registered model `name`: every field at its Module's default (the one
    home of model defaults, ferjax.models.default_config), updated with what this experiment
    sets differently. Every field stays overridable: --config.model.<field>=value."""
    from ferjax import models

    return mlc.ConfigDict({**models.default_config(name), **differs})


def apply_runlocal(c: mlc.ConfigDict, steps: int, *, eval_batch: int = 16,
                   stats_examples: int = 64, checkpoint_every: int = 3,
                   log_every: int = 2) -> None:
    """Shrinks a config in place to a seconds-long smoke run (the `runlocal` argument)."""
    c.train.num_steps = steps
    c.train.batch_size = 8
    c.train.log_every = log_every
    c.train.checkpoint_every = checkpoint_every
    c.eval.batch_size = eval_batch
    c.data.stats_examples = stats_examples


def fersynth_data(variant: str = "front", **builder_kwargs) -> mlc.ConfigDict:
    """FERSynth (embedded, built locally on first use) in the canonical 8-class space."""
    return mlc.ConfigDict({
        "source": "tfds",
        "name": "fersynth",
        "config": variant,
        "data_dir": "",             # "" = tfds default (~/tensorflow_datasets)
        "manual_dir": "",
        "builder_kwargs": dict(builder_kwargs),
        "seed": 0,
        "train_split": "train",
        "eval_split": "validation",
        "validation_split": "",     # split selecting the model (ferjax.data.validation); "" none
        "validation_fraction": 0.0,  # > 0: that fraction of training subjects held out instead
        "cv_split": "train+validation+test",
        "fold": -1,                 # >= 0 with protocol "kfold": evaluate on this fold
        "num_folds": 5,             # folds = the records' `fold` modulo num_folds, unless
        "subjects_per_fold": 0,     # > 0: leave-n-subjects-out groups (FERAtt: 10)
        "label_space": "canonical8",
        "channels": 1,
        "crop_size": (144, 112),
        "extra_keys": (),
        "stats_examples": 1024,
        "augment": {"random_crop": True, "flip": True, "brightness": 0.0,
                    "contrast": (1.0, 1.0), "photometric_space": "pixels"},
        # In-step augmentation of the whole batch (ferjax.data.batch_augment): reflect-pad
        # translation (pixels), rotation (degrees), random erasing (probability), mixup (α).
        "batch_augment": {"translate": 0, "rotation": 0.0, "erasing": 0.0, "mixup": 0.0},
        "normalisation": "per_channel",  # or "per_pixel" (a mean and a std image)
        "noise_sigma": 0.0,         # > 0: noisy training and test sets (FERAtt §4.4)
        # Training input: "auto" keeps the decoded training split on the devices when it fits
        # device_budget_mb (MB per device) and has fixed rows (not per-epoch composites), else
        # reads it on the host; "device" | "host" force one (ferjax.data.device_input).
        "placement": "auto",
        "device_budget_mb": 2048.0,
        "workers": -1,              # host-path grain worker processes; -1 = from the CPUs allocated,
                                    # 0 = in-process (ferjax.data.pipeline.resolve_workers)
        "dedup": False,             # drop training images identical to evaluation
                                    # or validation images
    })


def native_size(name: str, variant: str = "") -> int | tuple[int, int]:
    """The image size a real builder config stores by default (FER-2013: 48, its 48×48 faces)."""
    from ferjax.data import builders

    return builders.builder_class(name)._base_config(variant or None).image_size


# Real-data training budgets in epochs: about 300k images for the large in-the-wild sets
# (FER-2013's 28,709 faces × 10 epochs; RAF-DB's 12,271 × 20; AffectNet's ~288k × 1) and 50
# epochs for the lab datasets (CK+, JAFFE, RaFD, KDEF, ...: a few hundred to 5k training faces
# per fold, a few thousand steps). Configs scale them; `paper` arguments keep the papers' own.
REAL_EPOCHS = {"fer2013": 10.0, "rafdb": 20.0, "affectnet": 1.0}
LAB_EPOCHS = 50.0
# Builders whose faces are stored pre-cropped and small (FER-2013's 48×48) train at that size:
# upscaling costs the square of the factor in compute and adds no information.
SMALL_FACE_SIDE = 64


def real_epochs(name: str) -> float:
    """The default real-data budget of builder `name`, in epochs (REAL_EPOCHS, LAB_EPOCHS)."""
    return REAL_EPOCHS.get(name, LAB_EPOCHS)


def small_faces(name: str, variant: str = "") -> bool:
    """Whether a builder stores pre-cropped small faces (native side ≤ SMALL_FACE_SIDE)."""
    size = native_size(name, variant)
    return (size if isinstance(size, int) else max(size)) <= SMALL_FACE_SIDE


# Preprocessing fields of the real builders (ferjax.data.real.builder.RealConfig) that configs
# always spell out, so that `--config.data.builder_kwargs.<field>=...` can override them.
PREPROCESS_FIELDS = ("crop", "crop_margin", "mask", "illumination")


def dataset_label_space(name: str, variant: str = "") -> str:
    """The label space of a dataset builder's config: 'seven' when its records cannot carry
    contempt (FER-2013, JAFFE, SFEW, ...), else 'canonical8'."""
    from ferjax import labels
    from ferjax.data import builders

    cls = builders.builder_class(name)
    classes = (cls.label_classes(variant or None) if hasattr(cls, "label_classes")
               else labels.CLASSES)
    return labels.label_space_of(classes)


def label_space(classes: int, data: mlc.ConfigDict) -> str:
    """config.data.label_space for a config's `classes` argument: 0 keeps the dataset's own
    (set by fersynth_data / real_data), 7 'seven', 8 'canonical8', 3 'three'."""
    spaces = {0: data.label_space, 3: "three", 7: "seven", 8: "canonical8"}
    if classes not in spaces:
        raise ValueError(f"config argument classes={classes}; expected 0 (the dataset's), 3, 7 "
                         "or 8")
    return spaces[classes]


def real_data(name: str, variant: str = "", *, image_size: int | tuple[int, int],
              grey: bool = True, crop_size: tuple[int, int] | None = None,
              **preprocess) -> tuple[mlc.ConfigDict, str]:
    """A real dataset's builder reading the user's copy from manual_dir, with its protocol.

    The builder prepares `image_size` images (a side, or (height, width)); the model sees
    `crop_size` crops (random in training, centred at test). `preprocess` sets any of
    PREPROCESS_FIELDS (crop, crop_margin, mask, illumination); the others keep the builder
    config's values and are written into builder_kwargs too. The label space is the dataset's
    (dataset_label_space: 7 classes for a dataset without contempt). Returns (data config,
    protocol): datasets without official test labels are cross-validated over their subject
    folds (the PROTOCOL each declares in ferjax/datasets/<name>/__init__.py).
    """
    from ferjax.data import builders

    unknown = sorted(set(preprocess) - set(PREPROCESS_FIELDS))
    if unknown:
        raise ValueError(f"real_data: unknown preprocessing fields {unknown}; expected some of "
                         f"{PREPROCESS_FIELDS}")
    base = builders.builder_class(name)._base_config(variant or None)
    c = fersynth_data()
    c.name, c.config = name, variant
    c.builder_kwargs = {"image_size": image_size, "grey": grey,
                        **{k: preprocess.get(k, getattr(base, k)) for k in PREPROCESS_FIELDS}}
    c.channels = 1 if grey else 3
    c.label_space = dataset_label_space(name, variant)
    side = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    c.crop_size = crop_size or side
    protocol = builders.protocol(name, variant)
    if protocol is not None and protocol.kind == "folds":
        c.cv_split, c.num_folds = protocol.train_split, protocol.num_folds
        return c, "kfold"
    if protocol is not None:
        c.train_split, c.eval_split = protocol.train_split, protocol.test_split
        c.validation_split = protocol.validation_split or ""
    return c, "holdout"
