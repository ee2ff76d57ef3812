"""Console output: only the CLI prints. Results go to stdout, diagnostics to stderr."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from rich.console import Console

stdout = Console()
stderr = Console(stderr=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _jsonable(value.item())
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def emit(result: dict[str, Any], as_json: bool, render: Callable[[Console], None]) -> None:
    """Print ``result`` as one JSON object (``--json``) or through ``render`` for people."""
    if as_json:
        print(json.dumps(_jsonable(result), indent=2, sort_keys=False))
    else:
        render(stdout)
