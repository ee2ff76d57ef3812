"""`bitlab probe RUN --train A --test B`: frozen-encoder linear probe (downstream accuracy).

Works for bitswin runs and baseline runs alike (bittrain.runs.load_run). The L2 strength is
chosen by k-fold cross-validation on the training split (reported), unless --l2 fixes it.
Prints scikit-learn's classification_report layout, accuracy and macro-F1; writes probe.json
and confusion.png.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import typer

from bitlab.commands import DEVICE
from bitlab.output import emit, stderr

DEFAULT_FOLDS = 5  # bitbench.probe.DEFAULT_FOLDS (not imported here: `bitlab --help` stays fast)


def _render(result: dict[str, Any]):
    def render(console) -> None:
        console.print(
            f"probe of {result['run']} on {Path(result['test']).name}",
            style="bold",
            markup=False,
            highlight=False,
        )
        # scikit-learn's classification_report layout, computed by bitbench
        console.print(result["report_text"], markup=False, highlight=False)
        cv = result.get("cv")
        if cv:
            best = next(s for s in cv["scores"] if s["l2"] == cv["chosen_l2"])
            grid = ", ".join(f"{s['l2']:g}" for s in cv["scores"])
            how = (
                f"L2 {result['l2']:g} chosen by {cv['folds']}-fold cross-validation on the "
                f"training split ({cv['scoring']} {best['mean']:.3f} +- {best['std']:.3f}; grid "
                f"{grid})"
            )
        else:
            how = f"L2 {result['l2']:g} (fixed by --l2)"
        console.print(
            f"accuracy [bold]{result['accuracy']:.4f}[/]  macro-F1 [bold]{result['macro_f1']:.4f}[/]"
            f"  (train accuracy {result['train_accuracy']:.3f}, majority class "
            f"{result['majority_baseline']:.3f}; {result['num_train']} train / "
            f"{result['num_test']} test texts, {result['feature_dim']}-d {result['kind']} features)"
        )
        console.print(how, markup=False, highlight=False)
        if result.get("written"):
            console.print(f"wrote {', '.join(result['written'])}")

    return render


def _command(
    run, train, test, test_fraction, columns, max_train, max_test, l2, cv_folds, seed
) -> str:
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
    if l2 is not None:
        parts += ["--l2", f"{l2:g}"]
    elif cv_folds != DEFAULT_FOLDS:
        parts += ["--cv-folds", str(cv_folds)]
    parts += ["--seed", str(seed)]
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
        l2: float = typer.Option(
            None,
            "--l2",
            help="Fix the L2 penalty of the logistic regression (default: chosen by "
            "cross-validation on the training split).",
        ),
        cv_folds: int = typer.Option(
            DEFAULT_FOLDS, "--cv-folds", help="Folds of the cross-validation that picks the L2."
        ),
        seed: int = typer.Option(
            0, "--seed", help="Seed of the subsampling, the hold-out and the folds."
        ),
        out: str = typer.Option(None, "--out", "-o", help="Output directory (default RUN/probe)."),
        device: str = DEVICE,
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Fit a linear probe on the frozen model's pooled features; report per-class scores."""
        from bitbench.probe import cap_rows, read_labelled, run_probe, split_holdout
        from bitbench.probe.outputs import write_probe_outputs
        from bittrain.runs import inspect_run, load_run
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

            result = run_probe(
                model, train_set, test_set, l2=l2, folds=cv_folds, seed=seed, progress=progress
            )
        result = {
            "run": str(info.run_dir),
            "train": train,
            "test": test if test is not None else f"{train} (held out {test_fraction:g})",
            "seed": seed,
            "command": _command(
                run, train, test, test_fraction, columns, max_train, max_test, l2, cv_folds, seed
            ),
            **result,
        }
        out_dir = Path(out) if out else Path(info.run_dir) / "probe"
        written = write_probe_outputs(result, out_dir)
        result["written"] = [str(p) for p in written.values()]
        emit(result, as_json, _render(result))
