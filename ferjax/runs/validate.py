"""Checks of a whole config before a start has any side effect (docs/reliability.md).

The launcher calls `check_config` right after parsing, before the workdir lock, config.json,
a dataset build or a checkpoint directory, so a refused start leaves the workdir as it was and
the corrected command can start there. train() keeps its own checks as a second line.
"""

import contextlib
from pathlib import Path

from ferjax import losses, models, runs  # runs: the runners (same layer)
from ferjax.data import device_input
from ferjax.evaluation import tta
from ferjax.models import conv_grad
from ferjax.runs import evaluators
from ferjax.train import distributed, optim, precision, selection

SOURCES = ("tfds", "fersynth_live", "memory")


class ConfigError(ValueError):
    """A config value that cannot start a run; the message names the field and the fix."""


def _batch_sizes(config) -> None:
    # The same pure checks train() makes, so both lines agree on what a valid batch is.
    distributed.local_batch_size(int(config.train.batch_size), "config.train.batch_size")
    distributed.local_batch_size(int(config.eval.batch_size), "config.eval.batch_size")


def _budget(config) -> None:
    if config.train.num_steps <= 0 and config.train.num_epochs <= 0:
        raise ValueError("set config.train.num_steps or config.train.num_epochs to a positive "
                         f"number (num_steps={config.train.num_steps}, "
                         f"num_epochs={config.train.num_epochs})")


def _protocol(config) -> None:
    # runs.get would also import the runner; only the name is needed here.
    if config.protocol not in runs.names():
        raise ValueError(f"config.protocol={config.protocol!r} is not a runner; choose one of "
                         f"{runs.names()}")


def _optimizer(config) -> None:
    # Building them is pure (optax objects, no arrays); the step count only shapes the decay.
    steps = int(config.train.num_steps) if config.train.num_steps > 0 else 1000
    optim.make_optimizer(config.train.optimizer, optim.make_schedule(config.train.schedule, steps))


def _names(config) -> None:
    # The registries' own lookups raise the errors train() would, naming the field.
    models.default_config(config.model.name)
    if "conv_grad_positions" in config.model:
        # The model reads it only when its first train step is traced; the backend and device
        # count are given so that no jax backend starts before a multi-process start.
        conv_grad.resolve(int(config.model.conv_grad_positions), backend="cpu", devices=1)
    for name in config.losses:
        losses.get(name)
    precision.compute_dtype(config.train)
    placement = config.data.get("placement", "auto")
    if placement not in device_input.PLACEMENTS:
        raise ValueError(f"config.data.placement={placement!r}; expected one of "
                         f"{device_input.PLACEMENTS}")
    if config.data.source not in SOURCES:
        raise ValueError(f"config.data.source={config.data.source!r}; expected one of {SOURCES}")


def _selection(config) -> None:
    criterion = selection.criterion(config.train)
    if config.data.get("validation_split", "") or config.data.get("validation_fraction", 0.0):
        selection.check_metric(criterion, selection.available_metrics(config.losses))


def stored_image_size(data_cfg) -> tuple[int, int] | None:
    """(H, W) of the images the data config's source stores, from the builder's config, without
    building it (None for memory sources: train() checks those on their records)."""
    from ferjax.data import builders

    if data_cfg.source not in ("tfds", "fersynth_live"):
        return None
    return builders.face_options(data_cfg).size_hw


@contextlib.contextmanager
def _quiet_tfds():
    # TFDS warns, on construction and on is_prepared(), that an unprepared folder has no
    # dataset_info.json: true, expected here, and noise above the one-paragraph error.
    from absl import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)


def _builder(data_cfg):
    """The TFDS builder of a data config, constructed only: it reads no data, writes nothing."""
    from ferjax.data import builders

    kwargs = dict(data_cfg.get("builder_kwargs", {}) or {})
    with _quiet_tfds():
        return builders.builder_class(data_cfg.name)(
            config=data_cfg.config or None, data_dir=data_cfg.get("data_dir") or None, **kwargs)


def _tta(config) -> None:
    mode = config.eval.get("tta", "none")
    if mode not in tta.MODES:
        raise ValueError(f"config.eval.tta={mode!r}; expected one of {tta.MODES}")
    size = stored_image_size(config.data)
    if size is not None:
        tta.check(mode, size, tuple(config.data.crop_size))


def check_manual_data(data_cfg) -> None:
    """Raises ConfigError when a real dataset that is not prepared yet cannot be built from
    config.data.manual_dir: the folder is unset or missing, or lacks a file the dataset's layout
    needs (the builder's own parse, which reads labels and file lists, not images). A prepared
    dataset opened with a manual_dir is compared with the folder it was built from."""
    from ferjax.data import builders, source_record
    from ferjax.data.real import errors

    if data_cfg.source != "tfds":
        return
    cls = builders.builder_class(data_cfg.name)
    if not hasattr(cls, "parse"):
        return  # built from nothing the user supplies (FERSynth)
    builder = _builder(data_cfg)
    manual_dir = str(data_cfg.get("manual_dir", "") or "")
    with _quiet_tfds():
        prepared = builder.is_prepared()
    if prepared:
        if manual_dir:
            try:
                source_record.check(builder.data_path, manual_dir)
            except (source_record.SourceChangedError, FileNotFoundError) as e:
                raise ConfigError(str(e)) from e
        return
    instructions = " ".join(str(getattr(cls, "MANUAL_DOWNLOAD_INSTRUCTIONS", "")).split())
    if not manual_dir:
        raise ConfigError(f"config.data.manual_dir is not set, and {data_cfg.name} is not "
                          f"prepared yet (it is built from your copy of the dataset). "
                          f"{instructions} Then pass --config.data.manual_dir=<that folder> "
                          "(docs/datasets.md lists each dataset's layout).")
    if not Path(manual_dir).is_dir():
        raise ConfigError(f"config.data.manual_dir={manual_dir!r} is not a folder. "
                          f"{instructions} Then pass --config.data.manual_dir=<that folder>.")
    try:
        parsed = builder.parse(Path(manual_dir))
    except errors.MissingManualFile as e:
        raise ConfigError(f"config.data.manual_dir={manual_dir!r} is not a {data_cfg.name} "
                          f"folder: {e}. {instructions}") from e
    except ValueError as e:  # unknown label codes, missing columns: the parser names the file
        raise ConfigError(f"config.data.manual_dir={manual_dir!r}: {e}") from e
    if not any(parsed.splits.values()):
        raise ConfigError(f"config.data.manual_dir={manual_dir!r} holds no {data_cfg.name} "
                          f"examples. {instructions}")


def check_config(config) -> None:
    """Raises ConfigError (one paragraph, naming the field and the fix) for the first bad value.

    Reads no images and writes nothing; check_manual_data (the slower check of the dataset's
    folder) is separate so that a sweep's dry run can check many points quickly."""
    for check in (_batch_sizes, _budget, _protocol, _names, _optimizer, _selection, _tta,
                  evaluators.check):
        try:
            check(config)
        except ConfigError:
            raise
        except ValueError as e:
            raise ConfigError(f"{e}; fix it with --config.<field>=<value> and start again") from e
