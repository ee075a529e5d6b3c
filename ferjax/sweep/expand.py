"""Expands a config file's sweep into checked points: name, workdir, launch.py command.

Everything a point will override is checked here, before anything runs: config-file arguments
by building the config with them, config fields by setting them on the built (locked) config.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable

from ferjax.runs import validate
from ferjax.sweep import spec

# Points run the launcher as a module of the installed package (the checkout's launch.py is the
# same code), so an installed ferjax's sweep names a command that exists.
LAUNCH = ("-m", "ferjax.launch")


class SweepError(ValueError):
    """A sweep that cannot run as declared (unknown field, bad value, clashing names)."""


@dataclasses.dataclass(frozen=True)
class Point:
    """One run of a sweep.

    overrides: the point as declared (see ferjax.sweep.spec); config: the resolved
    "file:arg" it runs; fields: the --config.<path> overrides; workdir: its own folder;
    data_key: which prepared dataset it reads (points sharing one must not build it at once).
    """
    index: int
    name: str
    overrides: dict[str, Any]
    config: str
    fields: dict[str, Any]
    workdir: Path
    data_key: str = ""


def split_spec(config_spec: str) -> tuple[str, str]:
    """'configs/x.py:a=1,b' -> ('configs/x.py', 'a=1,b')."""
    path, _, arg = config_spec.partition(":")
    return path, arg


def merge_arg(arg: str, updates: dict[str, Any]) -> str:
    """Config-argument text with keys replaced or appended: ('a=1,b', {'a': 2}) -> 'a=2,b'."""
    items = [i for i in arg.split(",") if i]
    for key, value in updates.items():
        text = f"{key}={format_value(value)}"
        keys = [i.partition("=")[0].strip() for i in items]
        if key in keys:
            items[keys.index(key)] = text
        else:
            items.append(text)
    return ",".join(items)


def format_value(value: Any) -> str:
    """How launch.py's flags spell a value (ml_collections override parsing)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return repr(tuple(value))
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def label(key: str, value: Any) -> tuple[str, str]:
    """The (field, value) a point's name and the tables show for one override."""
    if key == spec.CONFIG:
        path, arg = split_spec(str(value))
        return "config", Path(path).stem + (f":{arg}" if arg else "")
    if isinstance(value, (tuple, list)):
        return key.lstrip(":"), "x".join(format_value(v) for v in value)
    return key.lstrip(":"), format_value(value)


def point_name(overrides: dict[str, Any]) -> str:
    """'variant=free,seed=0': the overrides in declaration order, filesystem-safe."""
    text = ",".join("=".join(label(k, v)) for k, v in overrides.items()) or "default"
    return re.sub(r"[^A-Za-z0-9_.=,+-]+", "_", text)


def load_config_module(path: str):
    """Imports a config file (as launch.py would) without registering it in sys.modules."""
    file = Path(path)
    if not file.is_file():
        raise SweepError(f"config file {path!r} not found")
    module_spec = importlib.util.spec_from_file_location(f"_sweep_config_{file.stem}", file)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def declared_points(config_spec: str) -> list[dict[str, Any]]:
    """The file's get_sweep(arg) for --config=file:arg, checked to be a list of dicts."""
    path, arg = split_spec(config_spec)
    module = load_config_module(path)
    get_sweep = getattr(module, "get_sweep", None)
    if get_sweep is None:
        raise SweepError(f"{path} defines no get_sweep(arg); add one (see ferjax/sweep/spec.py)")
    points = get_sweep(arg or None)
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise SweepError(f"{path}: get_sweep must return a list of override dicts")
    if not points:
        raise SweepError(f"{path}: get_sweep({arg!r}) returned no points")
    return points


def resolve(config_spec: str, overrides: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A point's 'file:arg' to run and its config-field overrides."""
    path, arg = split_spec(config_spec)
    if spec.CONFIG in overrides:
        path, own_arg = split_spec(str(overrides[spec.CONFIG]))
        arg = merge_arg(arg, dict(_arg_items(own_arg)))
    arg = merge_arg(arg, {k[1:]: v for k, v in overrides.items() if k.startswith(":")})
    fields = {k: v for k, v in overrides.items() if k != spec.CONFIG and not k.startswith(":")}
    return (f"{path}:{arg}" if arg else path), fields


def _arg_items(arg: str):
    for item in filter(None, arg.split(",")):
        key, eq, value = item.partition("=")
        yield key.strip(), (value if eq else True)


def data_key(config) -> str:
    """The dataset a config reads (builder, its config and arguments, folder) as text."""
    data = config.get("data")
    if data is None:
        return ""
    keys = ("source", "name", "config", "data_dir", "builder_kwargs")
    return json.dumps({k: data.get(k) for k in keys}, sort_keys=True, default=str)


def check_fields(config, fields: dict[str, Any], where: str):
    """Sets each dotted field on a copy of the (locked) config and returns the copy; raises
    SweepError naming a field the config does not have or a value it cannot take."""
    config = config.copy_and_resolve_references()
    for path, value in fields.items():
        *parents, leaf = path.split(".")
        node = config
        try:
            for part in parents:
                node = node[part]
            if leaf not in node:
                raise KeyError(leaf)
            node[leaf] = value
        except (KeyError, AttributeError, TypeError) as e:
            if isinstance(e, TypeError) and leaf in getattr(node, "keys", lambda: ())():
                raise SweepError(f"{where}: sweep field {path!r} cannot take {value!r} "
                                 f"({e})") from None
            raise SweepError(f"{where}: sweep field {path!r} is not a field of the config "
                             "(only fields its get_config defines can be swept)") from None
    return config


def launch_fields(launch_flags: tuple[str, ...]) -> dict[str, Any]:
    """The --config.<path>=<value> overrides among a sweep's --launch_flag values, typed as
    launch.py types them (a Python literal, else the string), so they are checked per point."""
    import ast
    fields = {}
    for flag in launch_flags:
        if flag.startswith("--config."):
            path, _, raw = flag[len("--config."):].partition("=")
            try:
                fields[path] = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                fields[path] = raw
    return fields


def expand(config_spec: str, workdir: str | Path,
           points: list[dict[str, Any]] | None = None,
           build: Callable[[str], Any] | None = None,
           launch_flags: tuple[str, ...] = ()) -> list[Point]:
    """Checks and names every point of the sweep; nothing is written or run.

    points defaults to the config file's get_sweep(arg); build(file_arg) -> ConfigDict
    defaults to importing the file and calling get_config(arg).
    """
    points = declared_points(config_spec) if points is None else points
    build = build or _build_config
    workdir = Path(workdir)
    built: dict[str, Any] = {}
    result, names = [], {}
    for index, overrides in enumerate(points):
        name = point_name(overrides)
        where = f"sweep point {index} ({name})"
        if name in names:
            raise SweepError(f"{where} has the same name as point {names[name]}; make the "
                             "overrides differ")
        names[name] = index
        run_spec, fields = resolve(config_spec, overrides)
        if run_spec not in built:
            try:
                built[run_spec] = build(run_spec)
            except (ValueError, TypeError, KeyError) as e:
                raise SweepError(f"{where}: {run_spec}: {e}") from None
        config = check_fields(built[run_spec], fields, where)
        # The launch flags are appended to every point's command: check them on each point too.
        config = check_fields(config, launch_fields(launch_flags), f"{where}, --launch_flag")
        try:  # what launch.py would refuse at the start of this point, refused now
            validate.check_config(config)
        except validate.ConfigError as e:
            raise SweepError(f"{where}: {e}") from None
        result.append(Point(index, name, dict(overrides), run_spec, fields, workdir / name,
                            data_key(config)))
    return result


def _build_config(run_spec: str):
    path, arg = split_spec(run_spec)
    config = load_config_module(path).get_config(arg or None)
    config.lock()
    return config


def launch_command(point: Point, extra_flags: tuple[str, ...] = (),
                   python: str = sys.executable,
                   launch: tuple[str, ...] = LAUNCH) -> list[str]:
    """The launcher command line of one point (rerunning it resumes the point)."""
    return [python, *launch, f"--config={point.config}",
            *(f"--config.{k}={format_value(v)}" for k, v in point.fields.items()),
            f"--workdir={point.workdir}", *extra_flags]
