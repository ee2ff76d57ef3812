"""`bitlab segment RUN`: text cut at the model's own unit boundaries, one line per input line."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from bitlab.errors import UserError
from bitlab.output import emit


def read_lines(text: str | None, file: Path | None) -> list[str]:
    """The input lines of --text or --file ('-' = stdin); exactly one of them."""
    if (text is None) == (file is None):
        raise UserError("give the text to segment with exactly one of --text '...' or --file FILE")
    if text is not None:
        return text.split("\n")
    if str(file) == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(file).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise UserError(f"--file '{file}' does not exist: check the path") from exc
    except IsADirectoryError as exc:
        raise UserError(f"--file '{file}' is a directory: pass a text file") from exc
    except UnicodeDecodeError as exc:
        raise UserError(
            f"--file '{file}' is not UTF-8 text (byte {exc.start}): convert it"
        ) from exc


def register(app: typer.Typer) -> None:
    @app.command("segment")
    def segment_command(
        run: Path = typer.Argument(..., help="A bitswin run directory."),
        text: str | None = typer.Option(None, "--text", help="Text to segment."),
        file: Path | None = typer.Option(
            None, "--file", help="UTF-8 file to segment ('-' = stdin)."
        ),
        sep: str = typer.Option("|", "--sep", help="Separator printed between units."),
        threshold: float | None = typer.Option(
            None,
            "--threshold",
            help="Boundary threshold (default: mean unit length = the run's target).",
        ),
        seq_len: int = typer.Option(
            512, "--seq-len", help="Long lines are scored in windows of this many bytes."
        ),
        device: str = typer.Option(
            "auto", "--device", help="torch device: auto (cuda if available, else cpu), cpu, cuda."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print units per line as JSON."),
    ) -> None:
        """Cut text at the model's unit boundaries (one output line per input line)."""
        from bitbench.runs import load_run
        from bitbench.segment import segment_lines

        lines = read_lines(text, file)
        model = load_run(run, device=device)
        seg = segment_lines(model, lines, threshold=threshold, seq_len=seq_len)
        result = {
            "threshold": seg.threshold,
            "mean_unit_bytes": seg.mean_unit_bytes,
            "lines": seg.lines,
        }

        def render(console) -> None:
            for line in seg.joined(sep):
                console.print(line, markup=False, highlight=False, soft_wrap=True)

        emit(result, as_json, render)
