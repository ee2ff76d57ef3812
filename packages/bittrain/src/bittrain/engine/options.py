"""A task's own settings: a frozen dataclass per task kind, read from the config section named
after the kind (``[bitswin]`` in a TOML config, ``--set bitswin.KEY=VALUE``).

``parse_options(cls, values, section)`` builds the dataclass from plain values with one clear
error for an unknown key (naming the closest) or a value of the wrong type; the dataclass's own
``__post_init__`` checks value ranges and choices.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any, TypeVar, get_type_hints

from bittrain.errors import BittrainError

T = TypeVar("T")
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def option_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _fits(value: Any, tp: Any) -> bool:
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, tp) if isinstance(tp, type) else True


def parse_options(cls: type[T], values: Mapping[str, Any], section: str) -> T:
    """``cls(**values)`` with unknown keys and wrong types reported as ``section.key``."""
    names = option_names(cls)
    hints = get_type_hints(cls)
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean '{section}.{close[0]}'?)" if close else ""
            raise BittrainError(
                f"unknown config key '{section}.{key}'{hint}: the [{section}] keys are "
                f"{', '.join(names)}"
            )
        if not _fits(value, hints[key]):
            raise BittrainError(
                f"config key '{section}.{key}' must be {_TYPE_NAMES.get(hints[key], 'a table')}, "
                f"got {value!r}"
            )
        clean[key] = float(value) if hints[key] is float else value
    return cls(**clean)
