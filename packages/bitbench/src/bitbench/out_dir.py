"""The folder a command writes its outputs into (``--out``): one check, one message."""

from __future__ import annotations

from pathlib import Path

from bitbench.errors import BitbenchError


def out_directory(out_dir: str | Path, *, create: bool = True) -> Path:
    """``out_dir`` as a Path, made (with its parents) unless ``create`` is False; a path that is
    a file is one clear error."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BitbenchError(f"output '{out}' is a file: pass a directory to --out")
    if create:
        out.mkdir(parents=True, exist_ok=True)
    return out
