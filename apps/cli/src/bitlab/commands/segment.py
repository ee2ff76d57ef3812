"""`bitlab segment [RUN]`: text cut into words at the model's own boundaries (or, with `--signal
counts --corpus TEXT` and no run, at boundaries counted from raw text), one line per input line;
with `--gold` the segmentation is scored (SIGHAN word P/R/F, OOV/IV recall with `--dict`).

The segmenter options (rules, signal, decoder) are shared with `bitlab eval --gold-seg`, which runs
the same code on the gold file's text: `SegmenterFlags` holds them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import typer

from bitlab.commands import DEVICE, WORD_LIST, with_option_group
from bitlab.errors import UserError
from bitlab.output import emit


@dataclass(frozen=True)
class SegmenterFlags:
    """The command-line segmenter options (defaults = bitbench's DecodeOptions / rules)."""

    decoder: str = "dp"
    max_word_chars: int = 4
    length_prior: float = 2.0
    prior_mean: float = 1.6
    rules: str = "all"
    signal: str = "head"
    unit_bytes: float | None = None
    chain: bool = True  # mask signals: a character's bytes by the chain rule (seg_signals)

    def decode_options(self, threshold: float | None = None) -> Any:
        """bitbench's DecodeOptions (a bad value is a BitbenchError: one clear line, exit 2)."""
        from bitbench.seg_decode import DecodeOptions

        return DecodeOptions(
            method=self.decoder,
            max_word_atoms=self.max_word_chars,
            prior_weight=self.length_prior,
            prior_mean_atoms=self.prior_mean,
            threshold=threshold,
            target_unit_bytes=self.unit_bytes,
        )

    def check(self) -> None:
        """Fail on a bad rule list or signal before any model is loaded."""
        from bitbench.errors import BitbenchError
        from bitbench.seg_rules import SegmentRules
        from bitbench.seg_signals import parse_signal

        SegmentRules.parse(self.rules)
        try:
            parse_signal(self.signal)
        except BitbenchError as err:
            raise UserError(f"--signal '{self.signal}': {err}") from None

    def args(self) -> list[str]:
        """The non-default options as command-line words (for reproduce lines)."""
        words: list[str] = []
        d = SegmenterFlags()
        for flag, name in (
            ("--decoder", "decoder"),
            ("--max-word-chars", "max_word_chars"),
            ("--length-prior", "length_prior"),
            ("--prior-mean", "prior_mean"),
            ("--rules", "rules"),
            ("--signal", "signal"),
            ("--unit-bytes", "unit_bytes"),
        ):
            value = getattr(self, name)
            if value is not None and value != getattr(d, name):
                words += [flag, str(value)]
        if self.chain != d.chain:
            words.append("--chain" if self.chain else "--no-chain")
        return words


DECODER_HELP = "dp (best segmentation under a length prior), peaks, or threshold."
RULES_HELP = "Hard rules: all, none, or a comma list of punctuation,scripts,runs,spaces."
SIGNAL_HELP = (
    "Which score decides the cuts (bitbench.seg_signals): head, pmi, lean, surprisal (a model), "
    "counts (no model: n-gram counts of --corpus), probe (the counts' cuts learned from the "
    "model's byte states), or several joined by +, each standardised and with an optional "
    "weight (e.g. counts+0.5*probe)."
)


def segmenter_options() -> dict[str, Any]:
    """The typer options of SegmenterFlags, defaulting to its fields."""
    d = SegmenterFlags()
    return {
        "decoder": typer.Option(d.decoder, "--decoder", help=DECODER_HELP),
        "max_word_chars": typer.Option(
            d.max_word_chars,
            "--max-word-chars",
            help="dp: longest word (a digit or Latin run counts as one).",
        ),
        "length_prior": typer.Option(
            d.length_prior, "--length-prior", help="dp: weight of the word-length prior (0 = none)."
        ),
        "prior_mean": typer.Option(
            d.prior_mean,
            "--prior-mean",
            help="dp: mean word length of the prior (no effect when the centre is searched).",
        ),
        "rules": typer.Option(d.rules, "--rules", help=RULES_HELP),
        "signal": typer.Option(d.signal, "--signal", help=SIGNAL_HELP),
        "unit_bytes": typer.Option(
            d.unit_bytes,
            "--unit-bytes",
            help="Mean word length in bytes to calibrate to (default: the run's; 4.7 with "
            "counts alone).",
        ),
        "chain": typer.Option(
            d.chain,
            "--chain/--no-chain",
            help="pmi, lean, surprisal: score a hidden character's bytes by the chain rule (one "
            "forward per byte place) or all in one forward (cheaper, as if independent).",
        ),
    }


# typer's options of SegmenterFlags; a command decorated with it receives ``segmenter``
with_segmenter_flags = with_option_group("segmenter", SegmenterFlags, segmenter_options())


def read_lines(text: str | None, file: Path | None) -> list[str]:
    """The input lines of --text or --file ('-' = stdin); exactly one of them."""
    if (text is None) == (file is None):
        raise UserError("give the text to segment with exactly one of --text '...' or --file FILE")
    if text is not None:
        return text.split("\n")
    if str(file) == "-":
        return sys.stdin.read().splitlines()
    from bittrain.fileio import read_text

    return read_text(file, "--file").splitlines()


def count_stats(corpus: list[Path], lines: list[str], rules: Any) -> tuple[Any, list[str]]:
    """n-gram counts of the --corpus sources and of the lines being segmented (atoms under the
    parsed ``rules``), and the lines of the sources (the probe signal's training text)."""
    from bitbench.seg_counts import CountStats, read_count_lines

    text = read_count_lines(corpus)
    return CountStats.from_lines(text + lines, rules=rules), text


def check_sources(run: Path | None, signal: str, corpus: list[Path]) -> bool:
    """Is a model needed (a run directory) for this signal? Refuses a run or --corpus that the
    signal would not read, and a missing one."""
    from bitbench.seg_signals import COUNT_SIGNAL, TEXT_SIGNALS, parse_signal

    parts = parse_signal(signal)
    needs_model = any(p != COUNT_SIGNAL for p in parts)
    reads_text = any(p in TEXT_SIGNALS for p in parts)
    if needs_model and run is None:
        raise UserError(
            f"--signal {signal} reads a model: give a run directory (bitlab segment RUN ...), "
            "or segment without one by --signal counts --corpus TEXT"
        )
    if run is not None and not needs_model:
        raise UserError(
            f"--signal {signal} reads no model: leave out the run directory '{run}' "
            "(or add a model signal, e.g. --signal pmi+counts)"
        )
    if reads_text and not corpus:
        return needs_model  # the text being segmented is counted alone
    if corpus and not reads_text:
        raise UserError(
            "--corpus is raw text for --signal counts or probe: add one of them to --signal"
        )
    return needs_model


def write_output(path: Path, text: str) -> None:
    from bittrain.fileio import write_text_atomic

    path = Path(path)
    if path.is_dir():
        raise UserError(f"--out '{path}' is a directory: pass a file name")
    write_text_atomic(path, text)


def register(app: typer.Typer) -> None:

    @app.command("segment")
    @with_segmenter_flags
    def segment_command(
        run: Path | None = typer.Argument(
            None, help="A bitswin run directory (none for --signal counts)."
        ),
        text: str | None = typer.Option(None, "--text", help="Text to segment."),
        file: Path | None = typer.Option(
            None, "--file", help="UTF-8 file to segment ('-' = stdin)."
        ),
        sep: str = typer.Option(
            "|", "--sep", help="Separator between words ('  ' writes SIGHAN's scorer format)."
        ),
        out: Path | None = typer.Option(
            None, "--out", help="Write the segmented lines to this file (atomic) instead of stdout."
        ),
        corpus: list[Path] = typer.Option(
            [],
            "--corpus",
            help="Raw text for --signal counts and probe: a UTF-8 text file or a corpus store "
            "(repeat for several); the text being segmented is counted too.",
        ),
        gold: Path | None = typer.Option(
            None,
            "--gold",
            help="Gold segmentation of the same lines (words separated by spaces): print SIGHAN "
            "word P/R/F instead of the words (write them with --out).",
        ),
        word_list: Path | None = WORD_LIST,
        threshold: float | None = typer.Option(
            None,
            "--threshold",
            help="Centre of the scores (default: searched so words average the run's unit length).",
        ),
        seq_len: int = typer.Option(
            512,
            "--seq-len",
            help="Long lines are scored in overlapping windows of this many bytes.",
        ),
        device: str = DEVICE,
        as_json: bool = typer.Option(False, "--json", help="Print words per line as JSON."),
        *,
        segmenter: SegmenterFlags,
    ) -> None:
        """Cut text into words at the model's boundaries, or at counted ones (--signal counts);
        one output line per input line (with --sep '  ' exactly the file the official SIGHAN
        scorer reads)."""
        from bitbench.seg_counts import COUNT_UNIT_BYTES
        from bitbench.seg_probe import ProbeSetup
        from bitbench.seg_rules import SegmentRules
        from bitbench.seg_signals import TEXT_SIGNALS, make_scorer, parse_signal
        from bitbench.segment import segment_lines
        from bitbench.sighan import (
            format_segmented,
            read_segmented_lines,
            read_word_list,
            score_lines,
        )
        from bittrain.runs import load_run

        from bitlab.progress import progress_bar

        flags = segmenter
        flags.check()
        signal, rules, unit_bytes = flags.signal, flags.rules, flags.unit_bytes
        needs_model = check_sources(run, signal, corpus)
        if word_list is not None and gold is None:
            raise UserError("--dict is the training word list for --gold: give --gold GOLD too")
        if unit_bytes is None and not needs_model:  # no run to take the unit length from
            flags = replace(flags, unit_bytes=COUNT_UNIT_BYTES)
        options = flags.decode_options(threshold)
        segment_rules = SegmentRules.parse(rules)
        lines = read_lines(text, file)
        gold_words = read_segmented_lines(gold) if gold is not None else None
        if gold_words is not None and len(gold_words) != len(lines):
            raise UserError(
                f"--gold '{gold}' has {len(gold_words)} lines, the text to segment "
                f"{len(lines)}: give the gold segmentation of the same lines"
            )
        dictionary = read_word_list(word_list) if word_list is not None else None
        with progress_bar() as bar:
            task = bar.add_task("segment", total=1)

            def step(stage: str, done: int, total: int) -> None:
                bar.update(task, description=f"segment: {stage}", completed=done, total=total)

            if needs_model:
                step("loading the run", 0, 1)
            model = load_run(run, device=device) if needs_model else None
            stats, probe = None, None
            if any(p in TEXT_SIGNALS for p in parse_signal(signal)):
                step("counting n-grams", 0, 1)
                stats, text = count_stats(corpus, lines, segment_rules)
                probe = ProbeSetup(text, options, segment_rules)
            seg = segment_lines(
                model,
                lines,
                options=options,
                rules=segment_rules,
                seq_len=seq_len,
                scorer=make_scorer(
                    model,
                    signal,
                    seq_len,
                    chain=flags.chain,
                    counts=stats,
                    probe=probe,
                    progress=step,
                ),
                progress=step,
            )
        result: dict[str, Any] = {
            "threshold": seg.threshold,
            "mean_unit_bytes": seg.mean_unit_bytes,
        }
        if gold_words is not None:
            result["scores"] = score_lines(gold_words, seg.lines, dictionary).as_dict()
        else:
            result["lines"] = seg.lines
        formatted = format_segmented(seg.lines, sep)
        if out is not None:
            write_output(out, formatted)
            result["out"] = str(out)
        emit(result, as_json, _render(result, formatted, seg.lines, out))


def _render(result: dict[str, Any], formatted: str, lines: list[list[str]], out: Path | None):
    """For people: the segmented lines on stdout (no --out, no --gold), else a summary."""

    def render(console) -> None:
        scores = result.get("scores")
        if scores is None and out is None:  # plain lines: a console would expand tabs and wrap
            sys.stdout.write(formatted)
            sys.stdout.flush()
            return
        if scores is not None:
            from bitbench.report import fmt
            from rich.table import Table

            table = Table(title="SIGHAN word scores")
            table.add_column("metric")
            table.add_column("value", justify="right")
            for key, value in scores.items():
                table.add_row(key, fmt(value))
            console.print(table)
        if out is not None:
            console.print(
                f"{len(lines)} lines, {sum(map(len, lines))} words -> {out}",
                markup=False,
                highlight=False,
            )

    return render
