"""`bitlab compare RUN... --corpus STORE`: one table and one bpb-vs-FLOPs plot for several runs."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from bitlab.commands import DEVICE
from bitlab.commands.evaluate import (
    SEED,
    SEQ_LEN,
    TABLE_WINDOWS,
    TEXT_BYTES,
    WINDOWS,
    EvalFlags,
)
from bitlab.output import emit
from bitlab.progress import progress_bar


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_command(
        runs: list[Path] = typer.Argument(..., help="Run directories to compare."),
        corpus: str = typer.Option(
            ..., "--corpus", help="Corpus store: every run is measured on its val split."
        ),
        windows: int = WINDOWS,
        seq_len: int = SEQ_LEN,
        seed: int = SEED,
        text_bytes: int | None = TEXT_BYTES,
        table_windows: int | None = TABLE_WINDOWS,
        protocol: list[str] = typer.Option(
            [],
            "--protocol",
            "-p",
            help="Evaluation protocols (words, tokens, bytes or all; default all); the first "
            "one is the bpb column and the validation curves' metric.",
        ),
        out: Path = typer.Option(Path("compare"), "--out", help="Output directory."),
        reuse: bool = typer.Option(
            True, "--reuse/--no-reuse", help="Reuse RUN/eval/metrics.json when it matches."
        ),
        device: str = DEVICE,
        as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    ) -> None:
        """Evaluate several runs on one corpus (the same hidden bytes for all); write compare.md,
        compare.json and bpb_vs_flops.png (validation bpb against training FLOPs and wall-clock,
        each run's bpb at the largest budget all reached)."""
        from bitbench.compare import compare_runs, write_compare
        from bitbench.evaluate import STAGES

        flags = EvalFlags(
            windows,
            seq_len,
            seed,
            text_bytes=text_bytes,
            table_windows=table_windows,
            protocols=protocol,
        )
        settings, extra = flags.settings(), flags.args()
        command = shlex.join(
            ["bitlab", "compare", *map(str, runs), "--corpus", corpus, *extra, "--out", str(out)]
        )
        with progress_bar() as bar:
            task = bar.add_task("compare", total=len(runs) * len(STAGES))
            done: dict[str, int] = {}

            def step(name: str, stage: str) -> None:
                done[name] = len(STAGES) if stage == "cached" else STAGES.index(stage) + 1
                bar.update(task, completed=sum(done.values()), description=f"{name}: {stage}")

            rows = compare_runs(
                runs,
                corpus=corpus,
                settings=settings,
                device=device,
                reuse=reuse,
                progress=step,
                command_for=lambda run: shlex.join(
                    ["bitlab", "eval", str(run), "--corpus", corpus, *extra]
                ),
            )
        written = write_compare(rows, out, command)

        def render(console) -> None:
            from bitbench.flops import format_flops
            from bitbench.report import fmt
            from rich.table import Table

            # The essentials on the terminal; compare.md has every column.
            columns = (("run", "name"), ("kind", "kind"), ("params", "num_params"),
                       ("lookup params", "lookup_params"), ("train FLOPs", "train_flops"), ("protocol", "protocol"), ("bpb", "bpb"),
                       ("one pass", "bpb_one_pass"), ("val bpb @ common FLOPs",
                       "bpb_at_common_flops"), ("boundary F1", "boundary_f1"))  # fmt: skip
            table = Table(title="bitlab compare")
            for header, _ in columns:
                table.add_column(header, justify="left" if header in ("run", "kind") else "right")
            for row in rows:
                table.add_row(
                    *[
                        format_flops(row.get(key)) if key == "train_flops" else fmt(row.get(key))
                        for _, key in columns
                    ]
                )
            console.print(table)
            for name, path in written.items():
                console.print(f"{name}: {path}", markup=False, highlight=False)

        emit({"rows": rows, "files": {k: str(v) for k, v in written.items()}}, as_json, render)
