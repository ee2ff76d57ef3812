"""Command groups of the `bitlab` CLI. Each module exposes ``register(app)``; keep imports of
heavy packages (torch, numba, zarr) inside the command functions."""

from __future__ import annotations

import importlib

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


def command_group(help: str) -> typer.Typer:
    """A group of sub-commands (``bitlab corpus info``; its name comes with ``add_typer``):
    ``-h`` works, no arguments print the group's help."""
    return typer.Typer(help=help, context_settings=HELP_OPTIONS, no_args_is_help=True)


def wire_all(app: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"bitlab.commands.{name}").register(app)
