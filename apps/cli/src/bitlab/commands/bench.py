"""`bitlab bench NAME`: speed and memory as ratios against references run in the same process.

Each benchmark is a function ``fn(quick: bool) -> dict`` living in the lowest package that can
run it; it returns ``{"name": str, "rows": [row, ...], "notes": [str, ...]}`` where a row is
``{"case", "metric", "value", "unit", "reference", "ratio", "target", "met"}`` (the last four may
be None). `train` also takes ``kinds``, ``compile_model`` and a ``progress(case, phase)``
callback (a progress bar here). This module only runs them and prints one table.
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
    "train": "bittrain.bench:train_bench",
}
# Options only the training bench takes (the others measure one fixed thing).
TRAIN_ONLY = "--kind and --compile apply to `bitlab bench train` only"


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


def _train(quick: bool, kinds: list[str], compile_model: bool) -> dict[str, Any]:
    """`bitlab bench train` under a progress bar: a tick per phase of each case."""
    from bittrain.bench.train_bench import PHASES, cases

    from bitlab.progress import progress_bar

    with progress_bar() as bar:
        task = bar.add_task("bench train", total=len(cases(kinds, quick)) * len(PHASES))
        heard = [0]  # phases begun so far; the bar counts the finished ones

        def tick(case: str, phase: str) -> None:
            bar.update(task, completed=heard[0], description=f"bench train: {case}: {phase}")
            heard[0] += 1

        report = _load("train")(
            quick=quick, kinds=kinds, compile_model=compile_model, progress=tick
        )
        bar.update(task, completed=heard[0])
    return report


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench(
        name: str = typer.Argument(..., help=f"One of: {', '.join(BENCHMARKS)}, or 'all'."),
        quick: bool = typer.Option(False, "--quick", help="Small sizes (seconds): a smoke run."),
        as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
        kinds: list[str] = typer.Option(
            [], "--kind", help="train: only these cases (name or kind, e.g. byte), repeatable."
        ),
        compile_model: bool = typer.Option(
            False, "--compile", help="train: under torch.compile (minutes of compiling first)."
        ),
    ) -> None:
        """Measure speed and memory against reference implementations run in the same process."""
        names = list(BENCHMARKS) if name == "all" else [name]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown:
            raise UserError(
                f"unknown benchmark '{unknown[0]}': choose one of {', '.join(BENCHMARKS)} or 'all'"
            )
        if (kinds or compile_model) and name != "train":
            raise UserError(f"{TRAIN_ONLY}: drop them or run `bitlab bench train`")
        reports = [_train(quick, kinds, compile_model) if n == "train" else _load(n)(quick=quick)
                   for n in names]  # fmt: skip
        emit({"benchmarks": reports}, as_json, _render(reports))
