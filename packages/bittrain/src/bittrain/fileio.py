"""Writes that matter are atomic (``bitswin.hub.write_atomic``: temp file in the same directory +
rename), reads of damaged files are one clear error: the one home for the JSON, text and tensor
files of runs, checkpoints and results (``write_atomic`` and ``write_text_atomic`` are
bitswin.hub's, re-exported for them).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
from bitswin.hub import write_atomic, write_text_atomic
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from bittrain.errors import BittrainError

__all__ = [
    "clean_for_json",
    "load_tensors",
    "read_json",
    "read_text",
    "safetensors_problem",
    "save_tensors",
    "write_atomic",
    "write_json_atomic",
    "write_text_atomic",
]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json_atomic(path: str | Path, obj: Any, *, sort_keys: bool = False) -> None:
    text = json.dumps(obj, indent=2, sort_keys=sort_keys, default=_json_default) + "\n"
    write_text_atomic(path, text)


def read_text(
    path: str | Path,
    what: str,
    *,
    encoding: str = "utf-8",
    error: type[Exception] = BittrainError,
) -> str:
    """The text of a file the user named (``what`` it is: "word list"), or one ``error`` (the
    caller's package error class) naming the file and the fix (missing, a directory, not UTF-8,
    unreadable)."""
    try:
        return Path(path).read_text(encoding=encoding)
    except FileNotFoundError:
        raise error(f"{what} '{path}' does not exist: check the path") from None
    except IsADirectoryError:
        raise error(f"{what} '{path}' is a directory: pass a file") from None
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} '{path}' is not UTF-8 (byte {exc.start}): convert it to UTF-8"
        ) from None
    except OSError as exc:
        raise error(f"cannot read {what} '{path}': {exc.strerror}") from None


def read_json(path: str | Path, *, fix: str = "the file is damaged: write it again") -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BittrainError(f"cannot read '{path}': {exc}: {fix}") from None


def save_tensors(path: str | Path, tensors: dict[str, Any]) -> None:
    clean = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    write_atomic(path, lambda tmp: save_file(clean, tmp))


def load_tensors(
    path: str | Path, *, fix: str = "the file is damaged: write it again"
) -> dict[str, Any]:
    try:
        return load_file(str(path))
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:  # several kinds
        raise BittrainError(f"cannot read '{path}': {exc}: {fix}") from None


def safetensors_problem(path: str | Path) -> str | None:
    """What is wrong with a safetensors file, from its header and size alone (no tensor is
    read): missing, a header that does not parse, or fewer bytes than the header promises (a
    truncated copy). None when it looks whole."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            length = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            header = fh.read(length) if 0 <= length <= size - 8 else b""
    except FileNotFoundError:
        return f"{path.name} is missing"
    except OSError as exc:
        return f"{path.name} cannot be read ({exc.strerror or exc})"
    if length < 0 or len(header) != length:
        return f"{path.name} is truncated ({size} bytes, shorter than its header)"
    try:
        entries = json.loads(header)
        end = max(
            (int(v["data_offsets"][1]) for k, v in entries.items() if k != "__metadata__"),
            default=0,
        )
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return f"{path.name} has a damaged header"
    expected = 8 + length + end
    if size != expected:
        how = "truncated" if size < expected else "longer than its header says"
        return f"{path.name} is {how} ({size} of {expected} bytes)"
    return None


def clean_for_json(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, recursively (metrics.json stays strict JSON)."""
    if isinstance(value, dict):
        return {str(k): clean_for_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_for_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
