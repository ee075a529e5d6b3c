"""Find and load ferjax's TFDS builders without importing anything called `datasets`.

The builders live in the repository's top-level `datasets/<name>/` folder, but `datasets` is
also the import name of Hugging Face's package, which many users have installed. So the folder
is never imported under that name: it is mounted as the package `ferjax_datasets` (from the
source tree next to `ferjax/`, or from an installed `ferjax_datasets` when ferjax is installed
without its source tree).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = "ferjax_datasets"


def datasets_dir() -> Path | None:
    """The source tree's `datasets/` folder, or None when ferjax runs without its sources."""
    candidate = Path(__file__).resolve().parents[2] / "datasets"
    return candidate if (candidate / "__init__.py").is_file() else None


def _mount_package() -> ModuleType:
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    root = datasets_dir()
    if root is None:  # an installed ferjax ships the folder as ferjax_datasets
        return importlib.import_module(PACKAGE)
    spec = importlib.util.spec_from_file_location(
        PACKAGE, root / "__init__.py", submodule_search_locations=[str(root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
    return module


def available() -> list[str]:
    """Names of the builder packages present."""
    package = _mount_package()
    return sorted(p.name for p in Path(package.__path__[0]).iterdir()
                  if (p / "__init__.py").is_file())


def builder_module(name: str) -> ModuleType:
    """The module `datasets/<name>/<name>_dataset_builder.py`, imported as ferjax_datasets.*."""
    _mount_package()
    if name not in available():
        raise ValueError(f"unknown dataset builder {name!r}; available: {available()}")
    return importlib.import_module(f"{PACKAGE}.{name}.{name}_dataset_builder")


def builder_class(name: str):
    """The tfds builder class (always named `Builder`) of dataset `name`."""
    return builder_module(name).Builder
