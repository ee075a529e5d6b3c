"""Config arguments name a file or, for an installed ferjax, a module: both become the file.

config_flags and the sweep load configs from files; `ferjax.configs.sun_attention:runlocal`
is the spelling that needs no checkout (the wheel ships the configs as ferjax.configs).
"""

import importlib.util
import re
from pathlib import Path

_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


def module_file(name: str) -> str | None:
    """The .py file of an importable dotted module name, else None (without importing it)."""
    try:
        found = importlib.util.find_spec(name)
    except (ModuleNotFoundError, ValueError):
        return None
    if found is None or not found.origin or not found.origin.endswith(".py"):
        return None
    return found.origin


def resolve(spec: str) -> str:
    """'<file or dotted module>[:arg]' with a module name replaced by its file.

    A path (an existing file, or anything that is not a dotted name such as configs/x.py) is
    returned unchanged, so the file's loader reports a missing one as before.
    """
    path, sep, arg = spec.partition(":")
    if Path(path).is_file() or not _MODULE_NAME.fullmatch(path):
        return spec
    file = module_file(path)
    return spec if file is None else file + sep + arg
