"""`bitlab fill RUN --text "The qu___ brown fox"`: the model fills the hidden bytes."""

from __future__ import annotations

from pathlib import Path

import typer

from bitlab.output import emit


def register(app: typer.Typer) -> None:
    @app.command("fill")
    def fill_command(
        run: Path = typer.Argument(..., help="A bitswin run directory."),
        text: str = typer.Option(
            ..., "--text", help="Text with hole characters, one per hidden byte."
        ),
        hole: str = typer.Option("_", "--hole", help="The hole character."),
        steps: int = typer.Option(
            1, "--steps", help="1 = all holes at once; N = N rounds, most confident first."
        ),
        device: str = typer.Option("cpu", "--device", help="torch device."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Fill hidden bytes with the model's byte predictions and print the decoded text."""
        from bitbench.fill import fill_text
        from bittrain.runs import load_run

        model = load_run(run, device=device)
        result = fill_text(model, text, hole=hole, steps=steps)
        out = {
            "input": text,
            "text": result.text,
            "rounds": result.rounds,
            "filled": [{"position": p, "byte": b, "probability": q} for p, b, q in result.filled],
        }

        def render(console) -> None:
            console.print(result.text, markup=False, highlight=False, soft_wrap=True)

        emit(out, as_json, render)
