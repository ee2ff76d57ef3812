"""Where log records go: the packages log through ``logging.getLogger(__name__)``; the `bitlab`
command (and a training worker it spawns) decides where the records go, through this module.

- Console: one handler on stderr for the records of bitlab's packages at ``--log-level``
  (default info; also ``BITLAB_LOG_LEVEL``, which spawned training workers inherit), a rich
  handler on a terminal and plain ``LEVEL name: message`` lines otherwise (CI logs, pipes).
  Other libraries speak at warning and above; so do ranks other than 0 of a distributed run
  (their records would repeat rank 0's).
- Run file: ``run_file(path)`` adds RUN/train.log (appended, never truncated, so a resumed run
  keeps the lines of its earlier sessions), at info or below whatever the console shows.
  Records marked ``extra={FILE_ONLY: True}`` (a line per logged training step, which the
  progress line already shows) go to the file only.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.logging import RichHandler

from bittrain.errors import BittrainError

LEVELS = ("debug", "info", "warning", "error")
LEVEL_ENV = "BITLAB_LOG_LEVEL"
DEFAULT_LEVEL = "info"
# bitlab's import packages, lowest first (the CLI's is `bitlab`).
PACKAGES = (
    "bittokens",
    "bitcodec",
    "bitmask",
    "bitswin",
    "enctable",
    "bitbaselines",
    "bittrain",
    "bitbench",
    "bitlab",
)
FILE_ONLY = "bitlab_file_only"
FILE_FORMAT = "%(asctime)s %(levelname)-7s [rank %(rank)s] %(name)s: %(message)s"
_CONSOLE_MARK = "_bitlab_console"
_FILE_MARK = "_bitlab_run_file"


def level_number(name: str) -> int:
    key = str(name).strip().lower()
    if key not in LEVELS:
        raise BittrainError(
            f"log level '{name}' is not one of {', '.join(LEVELS)}: e.g. --log-level info"
        )
    return getattr(logging, key.upper())


def current_level() -> str:
    return os.environ.get(LEVEL_ENV) or DEFAULT_LEVEL


def _not_file_only(record: logging.LogRecord) -> bool:
    return not getattr(record, FILE_ONLY, False)


class _StderrHandler(logging.StreamHandler):
    """Writes to the sys.stderr of the moment (not the one at creation: tests swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _console_handler(level: int) -> logging.Handler:
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(
            console=Console(stderr=True), show_path=False, markup=False, rich_tracebacks=False
        )
    else:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    handler.addFilter(_not_file_only)
    setattr(handler, _CONSOLE_MARK, True)
    return handler


def _package_levels() -> None:
    """Our loggers let through what any of our handlers wants (console level, file at info)."""
    wanted = [h.level for h in logging.getLogger().handlers if hasattr(h, _CONSOLE_MARK)]
    wanted += [h.level for h in logging.getLogger().handlers if hasattr(h, _FILE_MARK)]
    level = min(wanted) if wanted else logging.WARNING
    for name in PACKAGES:
        logging.getLogger(name).setLevel(level)


def configure(level: str | None = None) -> None:
    """Console logging at ``level`` (or BITLAB_LOG_LEVEL, or info); replaces an earlier call's
    handler, so calling it once per command (and in tests, many times) is safe."""
    name = level or current_level()
    number = level_number(name)
    os.environ[LEVEL_ENV] = name.lower()  # spawned training workers log at the same level
    if os.environ.get("RANK", "0") != "0":  # other ranks of a distributed run: problems only
        number = max(number, logging.WARNING)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if hasattr(h, _CONSOLE_MARK)]:
        root.removeHandler(handler)
    root.addHandler(_console_handler(number))
    _package_levels()


def remove_console() -> None:
    """Undo ``configure`` (the end of one CLI invocation)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if hasattr(h, _CONSOLE_MARK)]:
        root.removeHandler(handler)
    _package_levels()


def has_console() -> bool:
    return any(hasattr(h, _CONSOLE_MARK) for h in logging.getLogger().handlers)


class _Rank(logging.Filter):
    def __init__(self, rank: int) -> None:
        super().__init__()
        self.rank = rank

    def filter(self, record: logging.LogRecord) -> bool:
        record.rank = self.rank
        return True


class RunFile:
    """RUN/train.log while a run trains: ``close()`` detaches it (idempotent)."""

    def __init__(self, path: Path, rank: int = 0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        level = min(logging.INFO, level_number(current_level()))
        self.handler = logging.FileHandler(self.path, mode="a", encoding="utf-8")
        self.handler.setFormatter(logging.Formatter(FILE_FORMAT))
        self.handler.setLevel(level)
        self.handler.addFilter(_Rank(rank))
        setattr(self.handler, _FILE_MARK, True)
        root = logging.getLogger()
        for old in [h for h in root.handlers if hasattr(h, _FILE_MARK)]:  # one run at a time
            root.removeHandler(old)
            old.close()
        root.addHandler(self.handler)
        _package_levels()

    def close(self) -> None:
        root = logging.getLogger()
        if self.handler in root.handlers:
            root.removeHandler(self.handler)
            self.handler.close()
            _package_levels()
