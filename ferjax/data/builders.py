"""Find and load ferjax's TFDS builders and the evaluation protocols their datasets declare.

Each dataset is one package, ferjax.datasets.<name> (the folder ferjax/datasets/<name>/;
see ferjax/datasets/__init__.py), holding its builder `<name>_dataset_builder.Builder`, its
layout and label table (layout.py) and, where it has a default evaluation protocol, PROTOCOL
in its __init__.py. A dataset is found by its folder: adding one needs no registry edit.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ferjax.data.splits import Protocol

PACKAGE = "ferjax.datasets"


def available() -> list[str]:
    """Names of the dataset packages present."""
    package = importlib.import_module(PACKAGE)
    return sorted(p.name for root in package.__path__ for p in Path(root).iterdir()
                  if (p / "__init__.py").is_file())


def dataset_package(name: str) -> ModuleType:
    """The package ferjax.datasets.<name> (ferjax/datasets/<name>/)."""
    if name not in available():
        raise ValueError(f"unknown dataset builder {name!r}; available: {available()}")
    return importlib.import_module(f"{PACKAGE}.{name}")


def builder_module(name: str) -> ModuleType:
    """The module ferjax/datasets/<name>/<name>_dataset_builder.py."""
    dataset_package(name)
    return importlib.import_module(f"{PACKAGE}.{name}.{name}_dataset_builder")


def builder_class(name: str):
    """The tfds builder class (always named `Builder`) of dataset `name`."""
    return builder_module(name).Builder


def protocol(name: str, config: str = "") -> Protocol | None:
    """The default evaluation protocol of dataset `name` (its builder config `config`), or None
    when its splits are as laid out. A package declares PROTOCOL, and PROTOCOLS
    {config name: Protocol} where one config differs (class_folder's CK+48 copy)."""
    package = dataset_package(name)
    by_config = getattr(package, "PROTOCOLS", {})
    return by_config[config] if config in by_config else getattr(package, "PROTOCOL", None)


def face_options(data_cfg):
    """The FaceOptions (ferjax.data.real.face) of the images config.data's dataset stores, read
    from the builder's config without building anything: a real dataset's builder config with
    config.data.builder_kwargs applied, or for FERSynth (rendered face crops) crop "none" at the
    rendered size and channels. mask is always False (what a model sees, not its extra keys)."""
    import dataclasses

    from ferjax.data.real.face import FaceOptions

    kwargs = dict(data_cfg.get("builder_kwargs", {}) or {})
    if data_cfg["name"] == "fersynth":
        from ferjax import synth
        preset = synth.preset(data_cfg["config"] or "front",
                              **{k: v for k, v in kwargs.items() if k != "seed"})
        return FaceOptions(image_size=tuple(preset.image_size), grey=preset.channels == 1,
                           crop="none")
    config = builder_class(data_cfg["name"]).resolved_config(data_cfg["config"] or None, kwargs)
    return dataclasses.replace(config.face_options(), mask=False)
