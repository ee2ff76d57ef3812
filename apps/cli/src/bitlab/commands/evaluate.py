"""`bitlab eval RUN`: every DESIGN.md metric for one run -> metrics.json, report.md, PNG plots."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from bitlab.commands import DEVICE, WORD_LIST
from bitlab.commands.segment import SegmenterFlags, with_segmenter_flags
from bitlab.output import emit
from bitlab.progress import progress_bar


@dataclass(frozen=True)
class EvalFlags:
    """The evaluation options of `bitlab eval` / `bitlab compare` (None: the library default)."""

    windows: int
    seq_len: int
    seed: int
    threshold: float | None = None
    text_bytes: int | None = None
    table_windows: int | None = None
    gold_lines: int | None = None
    protocols: list[str] | None = None
    segmenter: SegmenterFlags | None = None

    def settings(self) -> Any:
        """bitbench's EvalSettings."""
        from bitbench.evaluate import EvalSettings

        extra: dict[str, Any] = {} if self.text_bytes is None else {"text_bytes": self.text_bytes}
        if self.protocols:
            extra["protocols"] = tuple(self.protocols)
        if self.segmenter is not None:
            extra.update(
                segmenter=self.segmenter.decode_options(),
                rules=self.segmenter.rules,
                signal=self.segmenter.signal,
                chain=self.segmenter.chain,
            )
        if self.table_windows is not None:
            extra["table_windows"] = self.table_windows
        if self.gold_lines is not None:
            extra["gold_lines"] = self.gold_lines
        return EvalSettings(
            windows=self.windows,
            seq_len=self.seq_len,
            seed=self.seed,
            threshold=self.threshold,
            **extra,
        )

    def args(self) -> list[str]:
        """The non-default options, as command-line words (for the reproduce line)."""
        from bitbench.evaluate import EvalSettings
        from bittrain.hidden.spans import resolve_protocols

        d = EvalSettings()
        words: list[str] = []
        if self.protocols and resolve_protocols(self.protocols) != d.protocols:
            words += ["--protocol", ",".join(resolve_protocols(self.protocols))]
        for flag, value, default in (
            ("--windows", self.windows, d.windows),
            ("--seq-len", self.seq_len, d.seq_len),
            ("--seed", self.seed, d.seed),
            ("--threshold", self.threshold, None),
            ("--text-bytes", self.text_bytes, None),
            ("--table-windows", self.table_windows, None),
            ("--gold-lines", self.gold_lines, None),
        ):
            if value is not None and value != default:
                words += [flag, str(value)]
        return words + (self.segmenter.args() if self.segmenter is not None else [])


def _summary(metrics: dict[str, Any], written: dict[str, Path], notes: list[str]):
    def render(console) -> None:
        from bitbench.report import fmt
        from rich.table import Table

        table = Table(title=f"bitlab eval: {metrics['run']} ({metrics['kind']})")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, entry in (metrics.get("protocols") or {}).items():
            table.add_row(
                f"bpb {name} (chain / one pass)",
                f"{fmt(entry.get('bpb'))} / {fmt(entry.get('bpb_one_pass'))}",
            )
        if metrics.get("hidden_digest"):
            table.add_row(f"hidden_digest ({metrics.get('protocol')})", metrics["hidden_digest"])
        for key in (
            "acc_bit", "acc_byte", "acc_word", "acc_phrase", "boundary_precision",
            "boundary_recall", "boundary_f1", "word_precision", "word_recall", "word_f1",
            "oov_rate", "oov_recall", "iv_recall", "consistency_auc", "consistency_auc_control",
            "flops_per_byte",
        ):  # fmt: skip
            if key in metrics:
                table.add_row(key, fmt(metrics[key]))
        for level in (metrics.get("table") or {}).get("levels", []):
            bpe = level.get("bpe") or {}
            table.add_row(
                f"table L{level['level']} bytes/code (BPE)",
                f"{fmt(level['table']['bytes_per_code'])} ({fmt(bpe.get('bytes_per_code'))})",
            )
        for name, value in (metrics.get("compression") or {}).items():
            if name != "num_bytes":
                table.add_row(f"{name} bits/byte", fmt(value))
        console.print(table)
        for name, path in written.items():
            console.print(f"{name}: {path}", markup=False, highlight=False)
        for note in notes:
            console.print(note, markup=False, highlight=False)

    return render


# Options `bitlab compare` shares (typer reads these defaults; the objects are not mutated).
WINDOWS = typer.Option(64, "--windows", help="Val windows to evaluate.")
SEQ_LEN = typer.Option(512, "--seq-len", help="Bytes per window.")
SEED = typer.Option(0, "--seed", help="Seed of the windows and masks.")
TEXT_BYTES = typer.Option(
    None, "--text-bytes", help="Val bytes for table/BPE/compressor statistics (default 1 MiB)."
)
TABLE_WINDOWS = typer.Option(
    None, "--table-windows", help="Train windows to grow a table when a run has none (256)."
)


def register(app: typer.Typer) -> None:
    @app.command("eval")
    @with_segmenter_flags
    def eval_command(
        run: Path = typer.Argument(
            ...,
            help="Run directory (the --out of bitlab train or baseline), or a local Hugging "
            "Face masked-LM directory with its tokenizer.",
        ),
        corpus: str | None = typer.Option(
            None, "--corpus", help="Corpus store: metrics on its val split."
        ),
        gold_seg: Path | None = typer.Option(
            None,
            "--gold-seg",
            help="Gold-segmented file (words separated by spaces): boundary F1, SIGHAN word P/R/F.",
        ),
        word_list: Path | None = WORD_LIST,
        windows: int = WINDOWS,
        seq_len: int = SEQ_LEN,
        seed: int = SEED,
        threshold: float | None = typer.Option(
            None, "--threshold", help="Boundary threshold (default: match the run's unit length)."
        ),
        text_bytes: int | None = TEXT_BYTES,
        table_windows: int | None = TABLE_WINDOWS,
        gold_lines: int | None = typer.Option(
            None, "--gold-lines", help="Use only the first N lines of --gold-seg."
        ),
        protocol: list[str] = typer.Option(
            [],
            "--protocol",
            "-p",
            help="Hidden bytes for bpb: words (headline; gold words with --gold-seg), tokens "
            "(reference BPE tokens), bytes (scattered), or all (default words,tokens,bytes); "
            "repeat or comma-separate. The first one is reported as bpb.",
        ),
        out: Path | None = typer.Option(None, "--out", help="Output directory (default RUN/eval)."),
        device: str = DEVICE,
        as_json: bool = typer.Option(False, "--json", help="Print metrics.json to stdout."),
        *,
        segmenter: SegmenterFlags,
    ) -> None:
        """Measure a run: accuracies per level, bpb, boundary F1, table vs BPE, consistency, FLOPs.

        Writes into --out (default RUN/eval) and the model card into RUN/model/README.md; a
        README.md that bitlab did not write (a Hugging Face folder's own, an edited card) is
        left as it is and the card goes to --out as model_card.md."""
        from bitbench.eval_folder import check_out_dir
        from bitbench.evaluate import STAGES, default_out_dir, evaluate_run, write_outputs
        from bitbench.model_card import CARD_NAME, write_model_card
        from bitcodec.writable import check_writable
        from bittrain.runs import inspect_run

        segmenter.check()
        flags = EvalFlags(
            windows,
            seq_len,
            seed,
            threshold,
            text_bytes,
            table_windows,
            gold_lines,
            protocol,
            segmenter,
        )
        settings = flags.settings()
        words = ["bitlab", "eval", str(run)]
        words += ["--corpus", str(corpus)] if corpus else []
        words += ["--gold-seg", str(gold_seg)] if gold_seg else []
        words += ["--dict", str(word_list)] if word_list else []
        words += flags.args()
        words += ["--out", str(out)] if out else []
        out_dir = out if out is not None else default_out_dir(run)
        check_out_dir(out_dir)  # before any work: a folder of someone else's files is refused
        check_writable(out_dir, "--out")
        with progress_bar() as bar:
            task = bar.add_task("eval", total=len(STAGES))

            def step(stage: str) -> None:
                bar.update(task, completed=STAGES.index(stage), description=f"eval: {stage}")

            evaluation = evaluate_run(
                run,
                corpus=corpus,
                gold_seg=gold_seg,
                settings=settings,
                device=device,
                progress=step,
                word_list=word_list,
            )
            bar.update(task, completed=len(STAGES), description="eval: writing report")
            written = write_outputs(evaluation, out_dir, shlex.join(words))
            info = inspect_run(run)
            written["model_card"] = write_model_card(info, evaluation.metrics, elsewhere=out_dir)
        notes = []
        if written["model_card"].name != CARD_NAME:
            notes.append(
                f"{info.model_dir / CARD_NAME} was not written by bitlab: left as it is "
                f"(the card is {written['model_card']})"
                if (info.model_dir / CARD_NAME).exists()
                else f"{info.model_dir} is not a bitlab run's model folder: nothing written "
                f"there (the card is {written['model_card']})"
            )
        emit(evaluation.metrics, as_json, _summary(evaluation.metrics, written, notes))
