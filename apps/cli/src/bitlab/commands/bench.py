"""`bitlab bench NAME`: speed and memory as ratios against references run in the same process.

Each benchmark is a function ``fn(quick: bool) -> dict`` living in the lowest package that can
run it; it returns ``{"name": str, "rows": [row, ...], "notes": [str, ...]}`` where a row is
``{"case", "metric", "value", "unit", "reference", "ratio", "target", "met"}`` (the last four may
be None). This module only runs them and prints one table.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer

from bitlab.errors import UserError
from bitlab.output import emit

# name -> "module:function"; the order is the order of `bitlab bench all`.
BENCHMARKS: dict[str, str] = {
    "codec": "bitcodec.bench_codec:codec_bench",
    "corpus": "bitcodec.bench_corpus:corpus_bench",
    "corpus-memory": "bitcodec.bench_memory:corpus_memory_bench",
    "masks": "bitbench.bench_masks:masks_bench",
    "model": "bitswin.bench:model_bench",
    "table": "bitbench.bench_table:table_bench",
}


def _load(name: str) -> Any:
    module_name, func_name = BENCHMARKS[name].split(":")
    return getattr(importlib.import_module(module_name), func_name)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _render(reports: list[dict[str, Any]]):
    def render(console) -> None:
        from rich.table import Table

        table = Table(title="bitlab bench", show_lines=False)
        for col in (
            "bench",
            "case",
            "metric",
            "value",
            "unit",
            "reference",
            "ratio",
            "target",
            "met",
        ):
            table.add_column(
                col, justify="right" if col in ("value", "reference", "ratio") else "left"
            )
        for report in reports:
            for row in report["rows"]:
                met = row.get("met")
                table.add_row(
                    report["name"],
                    str(row.get("case", "")),
                    str(row.get("metric", "")),
                    _fmt(row.get("value")),
                    str(row.get("unit", "")),
                    _fmt(row.get("reference")),
                    _fmt(row.get("ratio")),
                    str(row.get("target") or "-"),
                    "-" if met is None else ("[green]yes[/]" if met else "[red]no[/]"),
                )
        console.print(table)
        for report in reports:
            for note in report.get("notes", []):
                console.print(f"[dim]{report['name']}: {note}[/]")

    return render


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench(
        name: str = typer.Argument(..., help=f"One of: {', '.join(BENCHMARKS)}, or 'all'."),
        quick: bool = typer.Option(False, "--quick", help="Small sizes (seconds): a smoke run."),
        as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
    ) -> None:
        """Measure speed and memory against reference implementations run in the same process."""
        names = list(BENCHMARKS) if name == "all" else [name]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown:
            raise UserError(
                f"unknown benchmark '{unknown[0]}': choose one of {', '.join(BENCHMARKS)} or 'all'"
            )
        reports = [_load(n)(quick=quick) for n in names]
        emit({"benchmarks": reports}, as_json, _render(reports))
