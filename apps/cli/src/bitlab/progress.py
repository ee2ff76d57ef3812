"""Progress of long commands on stderr: a rich bar on a terminal, plain lines elsewhere.

On a terminal, ``progress_bar()`` is a transient rich bar (spinner, description, bar,
done/total, elapsed time) on stderr, so stdout holds only the results. Where stderr is no
terminal (CI logs, pipes, ``2> file``) rich draws nothing at all, so the same bar prints a
plain line instead (``bitlab: compare run-a: bpb, 2/16, 0:02:31``) whenever a task's
description changes and every ``every_s`` seconds while the work lasts, from a timer thread:
a single stage of minutes still shows a sign of life, and a log gets a line per stage, not per
step. Work that ends within ``QUIET_S`` seconds prints nothing (an error stays one line).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from bitlab.output import stderr

PLAIN_EVERY_S = 30.0
QUIET_S = 5.0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class ProgressBar(Progress):
    """rich's ``Progress`` (``add_task`` / ``update`` / ``advance``) with plain lines where
    stderr is no terminal (see the module docstring)."""

    def __init__(self, *, every_s: float = PLAIN_EVERY_S) -> None:
        self.plain = not stderr.is_terminal
        super().__init__(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
            disable=self.plain,  # rich's live display would only add a blank line there
        )
        self._every_s = every_s
        self._shown: dict[TaskID, str] = {}  # the description each task's last line showed
        self._started = time.monotonic()
        self._done = threading.Event()
        self._timer: threading.Thread | None = None

    def start(self) -> None:
        super().start()
        self._started = time.monotonic()
        if self.plain and self._timer is None:
            self._timer = threading.Thread(target=self._beat, name="bitlab-progress", daemon=True)
            self._timer.start()

    def stop(self) -> None:
        self._done.set()
        if self._timer is not None:
            self._timer.join(timeout=1.0)
            self._timer = None
        super().stop()

    def add_task(self, description: str, *args: Any, **kwargs: Any) -> TaskID:
        task_id = super().add_task(description, *args, **kwargs)
        if self.plain and self._speaks():
            self._line(self._task(task_id))
        return task_id

    def update(self, task_id: TaskID, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(task_id, **kwargs)
        task = self._task(task_id)
        if self.plain and self._shown.get(task_id) != task.description and self._speaks():
            self._line(task)

    def _speaks(self) -> bool:
        return time.monotonic() - self._started >= QUIET_S

    def _task(self, task_id: TaskID) -> Task:
        return next(task for task in self.tasks if task.id == task_id)

    def _line(self, task: Task) -> None:
        self._shown[task.id] = task.description
        count = f", {task.completed:g}/{task.total:g}" if task.total else ""
        elapsed = _clock(time.monotonic() - self._started)
        print(f"bitlab: {task.description}{count}, {elapsed}", file=sys.stderr, flush=True)

    def _beat(self) -> None:
        """Lines from ``QUIET_S`` seconds on, then every ``every_s``, until ``stop``."""
        if self._done.wait(QUIET_S):
            return
        while True:
            for task in self.tasks:
                if not task.finished:
                    self._line(task)
            if self._done.wait(self._every_s):
                return


def progress_bar() -> ProgressBar:
    """The progress display of long commands (see the module docstring)."""
    return ProgressBar()
