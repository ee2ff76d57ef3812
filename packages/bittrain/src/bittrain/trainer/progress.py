"""Rank 0's progress display: a rich live line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn


def _fmt_rate(bits_per_s: float) -> str:
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits_per_s >= scale:
            return f"{bits_per_s / scale:.2f} {unit}"
    return f"{bits_per_s:.0f} bit/s"


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressLine:
    """``update(step, phase, loss, bits_per_s, eta_s)`` each step; ``note(text)`` for events."""

    def __init__(self, total_steps: int, start_step: int, enabled: bool) -> None:
        self.enabled = enabled
        self.total = total_steps
        self._live = None
        self._last_plain = 0.0
        if not enabled:
            return
        self.console = Console(stderr=True)
        if self.console.is_terminal:
            self._live = Progress(
                TextColumn("[bold]step {task.completed}/{task.total}"),
                BarColumn(),
                TextColumn("{task.fields[info]}"),
                console=self.console,
                transient=False,
            )
            self._task = self._live.add_task(
                "train", total=total_steps, completed=start_step, info=""
            )
            self._live.start()

    def update(
        self, step: int, phase: int, loss: float, bits_per_s: float, eta_s: float | None
    ) -> None:
        if not self.enabled:
            return
        info = f"phase {phase}  loss {loss:.4f}  {_fmt_rate(bits_per_s)}  ETA {_fmt_eta(eta_s)}"
        if self._live is not None:
            self._live.update(self._task, completed=step, info=info)
            return
        now = time.monotonic()
        if now - self._last_plain >= 10.0 or step == self.total:
            self._last_plain = now
            print(f"step {step}/{self.total}  {info}", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        if not self.enabled:
            return
        if self._live is not None:
            self._live.console.print(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def val_summary(step: int, metrics: dict[str, Any]) -> str:
    parts = [f"val @ step {step}:"]
    for key in (
        "bpb_words_one_pass",
        "bpb_tokens_one_pass",
        "bpb_bytes_one_pass",
        "val_bpb_masked",
    ):
        value = metrics.get(key)
        if isinstance(value, (int, float)):
            parts.append(f"{key.removesuffix('_one_pass')} {value:.4f}")
    for key in ("val_acc_bit", "val_acc_byte", "val_acc_word", "val_acc_phrase"):
        if isinstance(metrics.get(key), (int, float)):
            parts.append(f"{key.removeprefix('val_')} {metrics[key]:.3f}")
    return "  ".join(parts)
