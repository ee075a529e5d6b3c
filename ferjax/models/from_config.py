"""config.model -> a Linen module's keyword arguments, with the module's fields as the defaults.

A model's defaults live in one place, its Module's fields; factories pass `config.model` (less
its name) through `module_kwargs` and configs set only what differs from those fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping

# Fields Flax adds to every Linen module; never settable from a config.
_FLAX_FIELDS = frozenset({"parent", "name"})


def module_fields(module_cls) -> list[str]:
    """Names of the dataclass fields a Linen module class declares (Flax's own excluded)."""
    return [f.name for f in dataclasses.fields(module_cls) if f.name not in _FLAX_FIELDS]


def _hashable(value: Any) -> Any:
    # Linen modules are hashed: config lists (and ConfigDict tuples of lists) become tuples.
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def module_kwargs(module_cls, model_config: Mapping[str, Any], *,
                  from_data: Iterable[str] = (), consumed: Iterable[str] = ()) -> dict:
    """Keyword arguments of `module_cls` from config.model.

    Args:
      module_cls: the Linen module class the factory builds.
      model_config: config.model, a mapping with "name" and any of the module's fields.
      from_data: fields the factory fills from data_info (e.g. num_classes); a config that sets
        them is an error.
      consumed: config keys used outside the module (e.g. a pretrained-weights path); dropped.
    Returns:
      {field: value} for every key of model_config but name and `consumed`; sequences become
      tuples.
    Raises:
      ValueError naming the config.model field that the module does not have.
    """
    settable = set(module_fields(module_cls)) - set(from_data)
    skip = {"name", *consumed}
    kwargs = {key: _hashable(value) for key, value in dict(model_config).items()
              if key not in skip}
    unknown = sorted(set(kwargs) - settable)
    if unknown:
        name = dict(model_config).get("name", module_cls.__name__)
        raise ValueError(f"config.model.{unknown[0]} is not a field of model {name!r} "
                         f"(unknown: {unknown}); known fields: {sorted(settable)}")
    return kwargs
