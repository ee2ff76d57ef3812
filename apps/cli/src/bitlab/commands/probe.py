"""`bitlab probe RUN --train A --test B`: frozen-encoder linear probe (downstream accuracy).

Works for bitswin runs and baseline runs alike (bitbench.runs.load_run). Reports accuracy,
macro-F1 and a per-class precision / recall / F1 table; writes probe.json and confusion.png.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import typer

from bitlab.output import emit, stderr


def _render(result: dict[str, Any]):
    def render(console) -> None:
        from rich.table import Table

        table = Table(title=f"probe of {result['run']} on {Path(result['test']).name}")
        for col in ("label", "precision", "recall", "f1", "support"):
            table.add_column(col, justify="left" if col == "label" else "right")
        for row in result["per_class"]:
            table.add_row(row["label"], f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                          f"{row['f1']:.3f}", str(row["support"]))  # fmt: skip
        table.add_section()
        table.add_row("macro avg", f"{result['macro_precision']:.3f}",
                      f"{result['macro_recall']:.3f}", f"{result['macro_f1']:.3f}",
                      str(result["num_test"]))  # fmt: skip
        console.print(table)
        console.print(
            f"accuracy [bold]{result['accuracy']:.4f}[/]  macro-F1 [bold]{result['macro_f1']:.4f}[/]"
            f"  (train accuracy {result['train_accuracy']:.3f}, majority class "
            f"{result['majority_baseline']:.3f}; {result['num_train']} train / "
            f"{result['num_test']} test texts, {result['feature_dim']}-d {result['kind']} features)"
        )
        if result.get("written"):
            console.print(f"wrote {', '.join(result['written'])}")

    return render


def _command(run, train, test, test_fraction, columns, max_train, max_test, l2, seed) -> str:
    """The command line that reproduces this probe (recorded in probe.json)."""
    parts = ["bitlab", "probe", run, "--train", train]
    if test is not None:
        parts += ["--test", test]
    else:
        parts += ["--test-fraction", f"{test_fraction:g}"]
    for key, value in columns.items():
        if value is not None:
            parts += [f"--{key.replace('_', '-')}", str(value)]
    for flag, value in (("--max-train", max_train), ("--max-test", max_test)):
        if value is not None:
            parts += [flag, str(value)]
    parts += ["--l2", f"{l2:g}", "--seed", str(seed)]
    return shlex.join(parts)


def register(app: typer.Typer) -> None:
    @app.command("probe")
    def probe(
        run: str = typer.Argument(..., help="Run directory (bitswin or baseline) or model dir."),
        train: str = typer.Option(..., "--train", help="Labelled training texts (TSV or CSV)."),
        test: str = typer.Option(
            None,
            "--test",
            help="Labelled test texts; default: hold out --test-fraction of --train.",
        ),
        test_fraction: float = typer.Option(
            0.2, "--test-fraction", help="Share of --train held out when --test is not given."
        ),
        text_col: str = typer.Option(
            None, "--text-col", help="Text column: header name or 0-based index."
        ),
        label_col: str = typer.Option(None, "--label-col", help="Label column: name or index."),
        delimiter: str = typer.Option(
            None, "--delimiter", help="Field separator (default: ',' for .csv, tab otherwise)."
        ),
        max_train: int = typer.Option(None, "--max-train", help="Use at most N training texts."),
        max_test: int = typer.Option(None, "--max-test", help="Use at most N test texts."),
        l2: float = typer.Option(1e-3, "--l2", help="L2 penalty of the logistic regression."),
        seed: int = typer.Option(0, "--seed", help="Seed of the subsampling and the hold-out."),
        out: str = typer.Option(None, "--out", "-o", help="Output directory (default RUN/probe)."),
        device: str = typer.Option(
            "auto", "--device", help="torch device: auto (cuda if available, else cpu), cpu, cuda."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Fit a linear probe on the frozen model's pooled features; report per-class scores."""
        from bitbench.probe import cap_rows, read_labelled, run_probe, split_holdout
        from bitbench.probe.outputs import write_probe_outputs
        from bitbench.runs import inspect_run, load_run
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = {"text_col": text_col, "label_col": label_col, "delimiter": delimiter}
        info = inspect_run(run)
        train_set = read_labelled(train, **columns)
        if test is None or Path(test).resolve() == Path(train).resolve():
            train_set, test_set = split_holdout(train_set, test_fraction, seed)
        else:
            test_set = read_labelled(test, **columns)
        train_set = cap_rows(train_set, max_train, seed)
        test_set = cap_rows(test_set, max_test, seed)
        model = load_run(run, device=device)
        tasks: dict[str, Any] = {}
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            console=stderr, transient=True, disable=as_json or not sys.stderr.isatty(),
        ) as bar:  # fmt: skip

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done)

            result = run_probe(model, train_set, test_set, l2=l2, progress=progress)
        result = {
            "run": str(info.run_dir),
            "train": train,
            "test": test if test is not None else f"{train} (held out {test_fraction:g})",
            "seed": seed,
            "command": _command(
                run, train, test, test_fraction, columns, max_train, max_test, l2, seed
            ),
            **result,
        }
        out_dir = Path(out) if out else Path(info.run_dir) / "probe"
        written = write_probe_outputs(result, out_dir)
        result["written"] = [str(p) for p in written.values()]
        emit(result, as_json, _render(result))
