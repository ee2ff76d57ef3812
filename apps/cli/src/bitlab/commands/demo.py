"""`bitlab demo`: the whole pipeline on a built-in corpus, in minutes, with no network.

The demo is the real commands run in sequence, in this process: prepare-corpus (the built-in
pydocs corpus), train (the tiny config, bounded by --minutes), table build (grown from the
trained model's boundaries), eval; then a short summary read back from eval's metrics.json.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from pathlib import Path
from typing import Any

import typer

from bitlab.errors import UserError
from bitlab.output import emit, stderr

SUMMARY_KEYS = ("bpb", "acc_bit", "acc_byte", "acc_word", "acc_phrase", "boundary_f1")


def _stage(name: str, argv: list[str], quiet: bool) -> None:
    """Run one bitlab command in-process; stop the demo with its exit code if it fails."""
    from bitlab.main import invoke

    stderr.rule(f"[bold]{name}[/]  bitlab {' '.join(argv)}")
    started = time.perf_counter()
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        code = invoke(argv)
    if code != 0:
        raise UserError(
            f"the demo stopped in stage '{name}' (exit {code}, message above): fix that and run "
            "bitlab demo again (the prepared corpus is kept and reused)"
        )
    stderr.print(f"[dim]{name}: {time.perf_counter() - started:.0f} s[/]")


def _clear_run(run: Path) -> None:
    """The demo owns its run directory; refuse to delete anything that is not a bitlab run."""
    if not run.exists():
        return
    if not (run / "config.toml").is_file() and any(run.iterdir()):
        raise UserError(
            f"'{run}' exists and is not a bitlab run directory: choose another --out for the demo"
        )
    shutil.rmtree(run)


def _summary(out: Path, run: Path, corpus: Path, minutes: float, total_s: float) -> dict[str, Any]:
    metrics_path = run / "eval" / "metrics.json"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    summary: dict[str, Any] = {key: metrics.get(key) for key in SUMMARY_KEYS}
    table = metrics.get("table") or {}
    summary["table"] = table
    summary["paths"] = {
        "corpus": str(corpus),
        "run": str(run),
        "report": str(run / "eval" / "report.md"),
        "metrics": str(metrics_path),
        "plots": sorted(str(p) for p in (run / "eval").glob("*.png")),
    }
    summary["train_minutes"] = minutes
    summary["total_seconds"] = round(total_s, 1)
    return summary


def _level_rows(table: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(level, table bytes per code, BPE bytes per token) from eval's table section."""
    rows = []
    for level in table.get("levels", []) or []:
        ours = (level.get("table") or {}).get("bytes_per_code")
        bpe = (level.get("bpe") or {}).get("bytes_per_code")
        rows.append((str(level.get("level")), ours, bpe))
    return rows


def _render(summary: dict[str, Any]):
    def fmt(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    def render(console) -> None:
        from rich.table import Table

        results = Table(title="bitlab demo: tiny bitswin on the built-in pydocs corpus")
        results.add_column("metric")
        results.add_column("value", justify="right")
        for key in SUMMARY_KEYS:
            results.add_row(key, fmt(summary.get(key)))
        for level, ours, bpe in _level_rows(summary["table"]):
            results.add_row(f"bytes per code, level {level} (BPE)", f"{fmt(ours)} ({fmt(bpe)})")
        console.print(results)
        paths = summary["paths"]
        console.print(f"report:  {paths['report']}")
        for plot in paths["plots"]:
            console.print(f"plot:    {plot}")
        console.print(f"[dim]whole demo: {summary['total_seconds']:.0f} s[/]")

    return render


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        minutes: float = typer.Option(6.0, "--minutes", "-m", help="Training time in minutes."),
        out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Where the demo writes."),
        corpus_mb: int = typer.Option(8, "--corpus-mb", help="Size of the built-in corpus in MB."),
        fresh: bool = typer.Option(False, "--fresh", help="Rebuild the corpus even if present."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Prepare a built-in corpus, train the tiny config, grow the table, evaluate, summarise."""
        if minutes <= 0 or corpus_mb < 1:
            raise UserError("--minutes must be > 0 and --corpus-mb >= 1")
        started = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        corpus, run = out / "corpus.zarr", out / "run"
        if fresh or not corpus.exists():
            _stage(
                "prepare-corpus",
                [
                    "prepare-corpus",
                    "--builtin",
                    "pydocs",
                    "--max-bytes",
                    f"{corpus_mb}MB",
                    "--out",
                    str(corpus),
                    "--overwrite",
                ],
                as_json,
            )
        _clear_run(run)
        _stage(
            "train",
            [
                "train",
                "--config",
                "tiny",
                "--corpus",
                str(corpus),
                "--out",
                str(run),
                "--max-minutes",
                str(minutes),
            ],
            as_json,
        )
        _stage(
            "table build",
            [
                "table",
                "build",
                str(run),
                "--corpus",
                str(corpus),
                "--out",
                str(run / "table"),
                "--overwrite",
            ],
            as_json,
        )
        _stage(
            "eval", ["eval", str(run), "--corpus", str(corpus), "--out", str(run / "eval")], as_json
        )
        summary = _summary(out, run, corpus, minutes, time.perf_counter() - started)
        emit(summary, as_json, _render(summary))
