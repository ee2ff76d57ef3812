"""Command groups of the `bitlab` CLI. Each module exposes ``register(app)``; keep imports of
heavy packages (torch, numba, zarr) inside the command functions."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

import typer

# Order here is the order in `bitlab --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "corpus",
    "train",
    "bench",
    "codec",
    "masks",
    "evaluate",
    "segment",
    "table",
    "fill",
    "compare",
    "baseline",
    "probe",
    "qa",
    "ablate",
)


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}
# The --device option of the commands that run a model (typer reads it; it is not mutated).
DEVICE = typer.Option(
    "auto", "--device", help="torch device: auto (cuda if available, else cpu), cpu, cuda."
)


# --dict of the commands that score a segmentation (eval --gold-seg, segment --gold).
WORD_LIST = typer.Option(
    None,
    "--dict",
    help="Training word list (one word per line) for the gold segmentation: OOV rate, OOV/IV "
    "recall.",
)


def with_option_group(
    name: str, group: type, options: dict[str, Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the options of a frozen dataclass ``group`` (one typer option per field,
    ``options[field]``): typer reads them from the merged signature, the command receives them
    as one ``group`` instance in its parameter ``name``."""
    hints = get_type_hints(group)
    fields = [f.name for f in dataclasses.fields(group)]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(command).parameters.values() if p.name != name]
        shared = [
            inspect.Parameter(
                f, inspect.Parameter.KEYWORD_ONLY, default=options[f], annotation=hints[f]
            )
            for f in fields
        ]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            picked = {f: kwargs.pop(f) for f in fields}
            return command(**kwargs, **{name: group(**picked)})

        wrapper.__signature__ = inspect.Signature(own + shared)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def command_group(help: str) -> typer.Typer:
    """A group of sub-commands (``bitlab corpus info``; its name comes with ``add_typer``):
    ``-h`` works, no arguments print the group's help."""
    return typer.Typer(help=help, context_settings=HELP_OPTIONS, no_args_is_help=True)


def wire_all(app: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"bitlab.commands.{name}").register(app)
