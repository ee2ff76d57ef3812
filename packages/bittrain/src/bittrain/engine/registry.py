"""The registry of task kinds: one entry per kind names how to build its TrainTask and how to
load a trained model of that kind as an EvalModel.

Built-in kinds live in :mod:`bittrain.tasks`; another package adds a kind with
``register_task(TaskKind(...))`` (as zarr registers codecs) when it is imported, or by naming a
module that does so under the entry-point group ``bittrain.tasks`` in its own metadata. Lookups
load both on first use, after which ``bitlab train --set task=NAME`` and ``bitlab eval`` know
every kind.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from bittrain.engine.contracts import EvalModel, TaskSpec, TrainTask
from bittrain.engine.options import option_names, parse_options
from bittrain.errors import BittrainError


@dataclass(frozen=True)
class TaskKind:
    """A registered kind: ``build(spec)`` makes the task; ``load_eval(info, device)`` loads a
    model directory written by its ``save_pretrained`` (``info``: a bittrain.runs RunInfo)."""

    name: str
    build: Callable[[TaskSpec], TrainTask]
    model_types: tuple[str, ...]  # "model_type" values its config.json files carry
    load_eval: Callable[[Any, str], EvalModel]
    description: str = ""
    # Checks a spec's model/mask/corruption settings without building the model (None: none).
    check: Callable[[TaskSpec], None] | None = None
    # Claims run directories whose model_type is not listed (e.g. any Hugging Face masked LM).
    matches: Callable[[Any], bool] | None = None
    # The kind's own settings: a frozen dataclass read from the config section named after the
    # kind (bittrain.engine.options); None for kinds without settings of their own.
    options: type | None = None


_KINDS: dict[str, TaskKind] = {}
BUILTIN_MODULE = "bittrain.tasks"
ENTRY_POINT_GROUP = "bittrain.tasks"
_discovered = False


def _discover() -> None:
    """Import the built-in kinds and those of installed plugins (once)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    importlib.import_module(BUILTIN_MODULE)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        point.load()


def register_task(kind: TaskKind) -> None:
    """Add a kind (re-registering the same name replaces it, e.g. in tests)."""
    for other in _KINDS.values():
        shared = set(other.model_types) & set(kind.model_types)
        if other.name != kind.name and shared:
            raise BittrainError(
                f"task kind '{kind.name}' claims model_type {sorted(shared)} of kind '{other.name}'"
            )
    _KINDS[kind.name] = kind


def task_kinds() -> tuple[str, ...]:
    _discover()
    return tuple(_KINDS)


def _unknown(what: str, value: str, known: list[str]) -> BittrainError:
    close = difflib.get_close_matches(value, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return BittrainError(f"{what} '{value}' is unknown{hint}: known are {', '.join(known)}")


def task_kind(name: str) -> TaskKind:
    _discover()
    if name not in _KINDS:
        raise _unknown("task kind", name, list(_KINDS))
    return _KINDS[name]


def kind_of_model_type(model_type: str) -> TaskKind:
    _discover()
    for kind in _KINDS.values():
        if model_type in kind.model_types:
            return kind
    known = [t for k in _KINDS.values() for t in k.model_types]
    raise _unknown("model_type", str(model_type), known)


def kind_of_run(info: Any) -> TaskKind:
    """The kind that loads a run (``info``: a RunInfo): by its model_type, else the first kind
    whose ``matches`` claims it."""
    _discover()
    for kind in _KINDS.values():
        if info.model_type in kind.model_types:
            return kind
    for kind in _KINDS.values():
        if kind.matches is not None and kind.matches(info):
            return kind
    return kind_of_model_type(info.model_type)  # the error naming the known types


def build_task(spec: TaskSpec) -> TrainTask:
    return task_kind(spec.kind).build(spec)


def check_spec(spec: TaskSpec) -> None:
    """Raise the error ``build_task(spec)`` would raise for bad settings, without building."""
    kind = task_kind(spec.kind)
    if kind.check is not None:
        kind.check(spec)


def model_types() -> tuple[str, ...]:
    _discover()
    return tuple(t for kind in _KINDS.values() for t in kind.model_types)


def describe() -> dict[str, str]:
    """name -> description, for help texts."""
    _discover()
    return {name: kind.description for name, kind in _KINDS.items()}


def task_option_names(name: str) -> tuple[str, ...]:
    """The keys of kind ``name``'s own config section (() for kinds without one)."""
    kind = task_kind(name)
    return () if kind.options is None else option_names(kind.options)


def task_options(name: str, values: dict[str, Any]) -> Any:
    """Kind ``name``'s options from its config section (None for kinds without options; a
    section given to such a kind is an error)."""
    kind = task_kind(name)
    if kind.options is None:
        if values:
            raise BittrainError(
                f"task kind '{name}' has no settings of its own: drop the [{name}] section "
                f"({', '.join(sorted(values))})"
            )
        return None
    return parse_options(kind.options, values, name)
