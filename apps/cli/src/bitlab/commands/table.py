"""`bitlab table build|inspect|encode|decode`: grow the adaptive encoding table from a run's
boundaries, look at it, and use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bitlab.commands import command_group
from bitlab.errors import UserError
from bitlab.output import emit
from bitlab.progress import progress_bar

CONTROL_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}


def show_bytes(data: bytes) -> str:
    """A pattern as readable text: UTF-8 where valid, \\xNN for other bytes, escaped controls."""
    text = data.decode("utf-8", errors="surrogateescape")  # bad byte b -> U+DC00 + b
    out = []
    for ch in text:
        if 0xDC80 <= ord(ch) <= 0xDCFF:
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ch in CONTROL_ESCAPES:
            out.append(CONTROL_ESCAPES[ch])
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _model_dir(run: Path) -> Path:
    if (run / "model" / "config.json").is_file():
        return run / "model"
    if (run / "config.json").is_file():
        return run
    if not run.exists():
        raise UserError(f"run directory '{run}' does not exist: pass the --out of bitlab train")
    raise UserError(
        f"'{run}' has no model/config.json: pass a run trained to the end by bitlab train (or a "
        "directory written by save_pretrained)"
    )


def _load_table(path: Path) -> Any:
    from enctable import AdaptiveEncodingTable

    return AdaptiveEncodingTable.load(path)


def _level_summary(table: Any, stats: dict[str, Any]) -> list[dict[str, Any]]:
    keep = (
        "level",
        "size",
        "vocab_size",
        "bytes_per_code",
        "code_entropy_bits",
        "coverage",
        "mean_confidence",
        "top_k_share",
        "decode_fidelity",
    )
    return [{k: lv[k] for k in keep} for lv in stats["levels"]]


def _render_summary(title: str, levels: list[dict[str, Any]]):
    def render(console) -> None:
        from rich.table import Table

        t = Table(title=title)
        for col in (
            "level",
            "patterns",
            "codes",
            "bytes/code",
            "entropy bits",
            "coverage",
            "confidence",
            "round trip",
        ):
            t.add_column(col, justify="right")

        def f(x: Any, spec: str = ".3f") -> str:
            return "-" if x is None else format(x, spec)

        for lv in levels:
            t.add_row(
                str(lv["level"]),
                str(lv["size"]),
                str(lv["vocab_size"]),
                f(lv["bytes_per_code"]),
                f(lv["code_entropy_bits"], ".2f"),
                f(lv["coverage"]),
                f(lv["mean_confidence"]),
                f(lv["decode_fidelity"]),
            )
        console.print(t)

    return render


# ------------------------------------------------------------------------------ build
def _check_build(batches: int, batch_size: int, seq_len: int, out: Path, overwrite: bool) -> None:
    """The mistakes `table build` can see before loading anything: one line each, at once."""
    from bitcodec.writable import check_writable
    from enctable.storage import check_table_destination

    if batches < 1 or batch_size < 1 or seq_len < 8:
        raise UserError("--batches and --batch-size must be >= 1 and --seq-len >= 8")
    if out.exists() and not overwrite:
        raise UserError(f"--out '{out}' already exists: pass --overwrite or choose another path")
    check_table_destination(out)
    check_writable(out, "--out", beside=True)  # saved as a temporary folder beside it, renamed


def _build(
    run: Path,
    corpus: str,
    out: Path,
    batches: int,
    batch_size: int,
    seq_len: int,
    split: str,
    levels: int,
    max_size: int,
    target_unit_bytes: float,
    attention: bool,
    device: str,
    seed: int,
    overwrite: bool,
) -> dict[str, Any]:
    import numpy as np
    import torch
    from bitbench.tables import feed_table
    from bitcodec.corpus_reader import open_corpus
    from bittrain.engine.contracts import HasBoundaries
    from bittrain.runs import load_run
    from enctable import AdaptiveEncodingTable

    _model_dir(run)  # a clear error when the run has no model
    with progress_bar() as bar:
        task = bar.add_task("table build: loading the model", total=batches)
        model = load_run(run, device=device)  # with the run's table codes and unit settings
        if not isinstance(model, HasBoundaries):
            raise UserError(
                f"run '{run}' holds a {model.kind} model without unit boundaries: use a bitswin run"
            )
        bar.update(task, description=f"table build: reading the {split} split")
        source = open_corpus(corpus).split(split)
        source.data()  # decoded once (a big split: into the window cache) before the batches
        table = AdaptiveEncodingTable(
            levels=levels, max_size=max_size, target_unit_bytes=target_unit_bytes
        )
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        bar.update(task, description="table build: feeding the table")
        for step in range(1, batches + 1):
            windows, doc_starts = source.sample_windows(batch_size, seq_len, rng)
            feed_table(table, model, windows, doc_starts, step=step, attention=attention)
            bar.advance(task)
        bar.update(task, description="table build: statistics and saving")
        sample, _ = source.sample_windows(min(8, batches * batch_size), seq_len, rng)
        stats = table.stats(sample=sample.reshape(-1))
        table.save(out)
    return {
        "table": str(out),
        "run": str(run),
        "corpus": corpus,
        "split": split,
        "windows": batches * batch_size,
        "seq_len": seq_len,
        "attention": attention,
        "levels": _level_summary(table, stats),
    }


# ------------------------------------------------------------------------------ inspect
def _inspect_render(result: dict[str, Any]):
    def render(console) -> None:
        from rich.table import Table
        from rich.text import Text

        for lv in result["levels"]:
            t = Table(title=f"level {lv['level']}: {lv['size']} patterns (top {len(lv['top'])})")
            for col in ("rank", "code", "pattern", "bytes", "frequency", "confidence"):
                t.add_column(col, justify="left" if col == "pattern" else "right")
            for i, p in enumerate(lv["top"], start=1):
                t.add_row(
                    str(i),
                    str(p["code"]),
                    Text(f"'{p['text']}'"),
                    str(p["bytes"]),
                    f"{p['frequency']:.1f}",
                    f"{p['confidence']:.3f}",
                )
            console.print(t)
        if result.get("plot"):
            console.print(f"rank-frequency plot: {result['plot']}")

    return render


# ------------------------------------------------------------------------------ commands
def register(app: typer.Typer) -> None:
    table_app = command_group("Grow, inspect and use the adaptive encoding table.")
    app.add_typer(table_app, name="table")

    @table_app.command("build")
    def build(
        run: Path = typer.Argument(..., help="A bitlab run (RUN/model) or a model directory."),
        corpus: str = typer.Option(..., "--corpus", help="Corpus store (bitlab prepare-corpus)."),
        out: Path = typer.Option(..., "--out", help="Directory to write the table to."),
        batches: int = typer.Option(50, "--batches", help="Batches of windows to feed."),
        batch_size: int = typer.Option(16, "--batch-size", help="Windows per batch."),
        seq_len: int = typer.Option(512, "--seq-len", help="Bytes per window."),
        split: str = typer.Option("train", "--split", help="Corpus split: train or val."),
        levels: int = typer.Option(4, "--levels", help="Table levels."),
        max_size: int = typer.Option(10000, "--max-size", help="Patterns per level."),
        target_unit_bytes: float = typer.Option(
            6.0, "--target-unit-bytes", help="Mean unit length the model's scores are cut at."
        ),
        attention: bool = typer.Option(
            True, "--attention/--no-attention", help="Refine cuts with the attention maps."
        ),
        device: str = typer.Option("cpu", "--device", help="torch device."),
        seed: int = typer.Option(0, "--seed", help="Seed of the window sampling."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Run the model over corpus windows and grow a table from its boundaries."""
        _check_build(batches, batch_size, seq_len, out, overwrite)
        result = _build(
            run,
            corpus,
            out,
            batches,
            batch_size,
            seq_len,
            split,
            levels,
            max_size,
            target_unit_bytes,
            attention,
            device,
            seed,
            overwrite,
        )
        emit(result, as_json, _render_summary(f"table written to {out}", result["levels"]))

    @table_app.command("inspect")
    def inspect(
        table_dir: Path = typer.Argument(..., help="A table directory."),
        top: int = typer.Option(20, "--top", help="Patterns shown per level."),
        plot: Path | None = typer.Option(None, "--plot", help="Write a rank-frequency PNG."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Top patterns per level with frequency and confidence; a rank-frequency plot."""
        table = _load_table(table_dir)
        levels = []
        for k in range(1, table.levels + 1):
            pats = table.top_patterns(k, top)
            levels.append(
                {
                    "level": k,
                    "size": table.level_sizes()[k],
                    "top": [
                        {
                            "code": p["code"],
                            "text": show_bytes(p["pattern"]),
                            "hex": p["pattern"].hex(),
                            "bytes": len(p["pattern"]),
                            "frequency": p["frequency"],
                            "confidence": p["confidence"],
                        }
                        for p in pats
                    ],
                }
            )
        if plot is not None:
            from bitbench.plots import plot_table_frequencies

            plot_table_frequencies(table, plot)
        result = {
            "table": str(table_dir),
            "levels": levels,
            "plot": None if plot is None else str(plot),
        }
        emit(result, as_json, _inspect_render(result))

    @table_app.command("encode")
    def encode(
        table_dir: Path = typer.Argument(..., help="A table directory."),
        level: int = typer.Option(2, "--level", help="Table level to encode at."),
        text: str = typer.Option(..., "--text", help="Text to encode (UTF-8)."),
        sep: str = typer.Option("|", "--sep", help="Separator shown between codes."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Encode text: the segmentation the table chooses and its codes."""
        table = _load_table(table_dir)
        data = text.encode("utf-8")
        codes = table.encode(data, level)
        pieces = table.pieces(codes, level)
        result = {
            "level": level,
            "bytes": len(data),
            "codes": [int(c) for c in codes],
            "pieces": [show_bytes(p) for p in pieces],
            "bytes_per_code": len(data) / len(codes) if len(codes) else None,
        }

        def render(console) -> None:
            console.print(sep.join(result["pieces"]), markup=False, highlight=False)
            console.print(" ".join(str(c) for c in result["codes"]), markup=False)

        emit(result, as_json, render)

    @table_app.command("decode")
    def decode(
        table_dir: Path = typer.Argument(..., help="A table directory."),
        codes: list[int] = typer.Argument(..., help="Codes to decode."),
        level: int = typer.Option(2, "--level", help="Table level the codes are from."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Decode codes back to the exact bytes (shown as UTF-8 text)."""
        table = _load_table(table_dir)
        data = table.decode(codes, level)
        result = {
            "level": level,
            "text": data.decode("utf-8", errors="backslashreplace"),
            "hex": data.hex(),
            "bytes": len(data),
        }

        def render(console) -> None:
            console.print(result["text"], markup=False, highlight=False)

        emit(result, as_json, render)
