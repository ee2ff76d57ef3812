"""Figures without pyplot's global state: ``new_figure`` and an atomic ``save_figure``, the one
home every bitbench (and bitlab) plot draws and writes through. No GUI backend is ever needed:
a ``matplotlib.figure.Figure`` renders through the Agg canvas on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from bittrain.fileio import write_atomic


def new_figure(figsize: tuple[float, float] = (7, 4), **kwargs: Any) -> Figure:
    return Figure(figsize=figsize, **kwargs)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 120, tight: bool = True) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (a reader never sees half an image)."""
    path = Path(path)
    extra = {"bbox_inches": "tight"} if tight else {}
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png", **extra))
    return path


def colour_cycle() -> list[str]:
    """matplotlib's default colour cycle."""
    return list(matplotlib.rcParams["axes.prop_cycle"].by_key()["color"])
