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
    "ablate",
)


def wire_all(app: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"bitlab.commands.{name}").register(app)
