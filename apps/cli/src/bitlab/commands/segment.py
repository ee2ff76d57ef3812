"""`bitlab segment RUN`: text cut into words at the model's own boundaries, one line per input line.

The segmenter options (rules, signal, decoder) are shared with `bitlab eval --gold-seg`, which runs
the same code on the gold file's text: `SegmenterFlags` holds them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from bitlab.commands import DEVICE
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
        from bitbench.seg_rules import SegmentRules
        from bitbench.seg_signals import SIGNALS

        SegmentRules.parse(self.rules)
        if self.signal not in SIGNALS:
            raise UserError(f"--signal '{self.signal}' is unknown: use one of {', '.join(SIGNALS)}")

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
        return words


DECODER_HELP = "dp (best segmentation under a length prior), peaks, or threshold."
RULES_HELP = "Hard rules: all, none, or a comma list of punctuation,scripts,runs,spaces."
SIGNAL_HELP = "Which model score decides the cuts (bitbench.seg_signals)."


def segmenter_options() -> dict[str, Any]:
    """The typer options of SegmenterFlags (shared by segment and eval), defaulting to its fields."""
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
            help="Mean word length to calibrate to (default: the run's).",
        ),
    }


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


def write_output(path: Path, text: str) -> None:
    from bittrain.fileio import write_text_atomic

    path = Path(path)
    if path.is_dir():
        raise UserError(f"--out '{path}' is a directory: pass a file name")
    write_text_atomic(path, text)


def register(app: typer.Typer) -> None:
    opts = segmenter_options()

    @app.command("segment")
    def segment_command(
        run: Path = typer.Argument(..., help="A bitswin run directory."),
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
        decoder: str = opts["decoder"],
        max_word_chars: int = opts["max_word_chars"],
        length_prior: float = opts["length_prior"],
        prior_mean: float = opts["prior_mean"],
        rules: str = opts["rules"],
        signal: str = opts["signal"],
        unit_bytes: float | None = opts["unit_bytes"],
        device: str = DEVICE,
        as_json: bool = typer.Option(False, "--json", help="Print words per line as JSON."),
    ) -> None:
        """Cut text into words at the model's boundaries (one output line per input line; with
        --sep '  ' exactly the file the official SIGHAN scorer reads)."""
        from bitbench.seg_rules import SegmentRules
        from bitbench.seg_signals import make_scorer
        from bitbench.segment import segment_lines
        from bitbench.sighan import format_segmented
        from bittrain.runs import load_run

        flags = SegmenterFlags(
            decoder, max_word_chars, length_prior, prior_mean, rules, signal, unit_bytes
        )
        options = flags.decode_options(threshold)
        flags.check()
        lines = read_lines(text, file)
        model = load_run(run, device=device)
        seg = segment_lines(
            model,
            lines,
            options=options,
            rules=SegmentRules.parse(rules),
            seq_len=seq_len,
            scorer=make_scorer(model, signal, seq_len),
        )
        result = {
            "threshold": seg.threshold,
            "mean_unit_bytes": seg.mean_unit_bytes,
            "lines": seg.lines,
        }
        formatted = format_segmented(seg.lines, sep)
        if out is not None:
            write_output(out, formatted)
            result["out"] = str(out)

        def render(console) -> None:
            if out is None:  # plain lines: a console would expand tabs and wrap
                sys.stdout.write(formatted)
                sys.stdout.flush()
            else:
                console.print(
                    f"{len(seg.lines)} lines, {sum(map(len, seg.lines))} words -> {out}",
                    markup=False,
                    highlight=False,
                )

        emit(result, as_json, render)
