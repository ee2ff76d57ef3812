"""`bitlab prepare-corpus` (text -> Zarr corpus store) and `bitlab corpus info`."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from pathlib import Path
from typing import Any

import typer

from bitlab.errors import UserError
from bitlab.output import emit, stderr

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}  # fmt: skip
DEFAULT_BUILTIN_MAX_BYTES = "64MB"


def parse_size(text: str, what: str) -> int:
    """'64MB', '1.5G', '512KiB' or a plain number of bytes -> bytes."""
    m = _SIZE.match(text)
    if not m:
        raise UserError(f"{what} '{text}' is not a size: write e.g. 64MB, 1.5GB or 1048576")
    unit = (m.group(2) or "").lower().rstrip("b")
    if unit not in _UNITS:
        raise UserError(f"{what} '{text}' has an unknown unit: use KB, MB, GB (or KiB, MiB, GiB)")
    value = int(float(m.group(1)) * _UNITS[unit])
    if value < 1:
        raise UserError(f"{what} '{text}' must be at least 1 byte")
    return value


def _fmt_bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def _render_prepare(result: dict[str, Any]):
    def render(console) -> None:
        from rich.table import Table

        table = Table(title=f"corpus store {result['out']}")
        for col in ("split", "documents", "bytes"):
            table.add_column(col, justify="left" if col == "split" else "right")
        for split in ("train", "val"):
            table.add_row(split, f"{result['docs'][split]:,}", _fmt_bytes(result["bytes"][split]))
        table.add_row("total", f"{result['total_docs']:,}", _fmt_bytes(result["total_bytes"]))
        console.print(table)
        speed = result.get("mb_per_s")
        console.print(
            f"{result['input_files']:,} input files, {result['seconds']:.1f} s"
            + (f", {speed:.1f} MB/s of document text" if speed else "")
            + f"; duplicates removed: {result['duplicates_removed']:,}"
            + f"; empty documents skipped: {result['skipped_empty']:,}"
            + (
                f"; binary files skipped: {result['skipped_binary_files']}"
                if result["skipped_binary_files"]
                else ""
            )
            + ("; stopped at --max-bytes" if result["capped_at_max_bytes"] else "")
            + ("; resumed" if result["resumed"] else "")
        )

    return render


def _dir_size(path: Path) -> int:
    total = 0
    for root, _, names in os.walk(path):
        for n in names:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, n))
    return total


def corpus_info(store: str) -> dict[str, Any]:
    """What `bitlab corpus info` shows, as a dict."""
    from bitcodec.corpus_reader import open_corpus

    corpus = open_corpus(store)
    attrs = corpus.attrs
    splits = {
        name: {
            "docs": s.num_docs,
            "bytes": s.num_bytes,
            "mean_doc_bytes": s.num_bytes / s.num_docs if s.num_docs else 0.0,
        }
        for name, s in corpus.splits.items()
    }
    info: dict[str, Any] = {
        "path": store,
        "format": attrs.get("format"),
        "format_version": attrs.get("format_version"),
        "store_id": attrs.get("store_id"),
        "total_docs": corpus.num_docs,
        "total_bytes": corpus.num_bytes,
        "splits": splits,
        "val_fraction": attrs.get("val_fraction"),
        "split_rule": attrs.get("split_rule"),
        "options": attrs.get("options", {}),
        "stats": attrs.get("stats", {}),
        "sources_total": attrs.get("sources_total", len(corpus.sources)),
        "sources": corpus.sources,
    }
    if "://" not in store:
        info["disk_bytes"] = _dir_size(Path(store))
    return info


def _render_info(info: dict[str, Any]):
    def render(console) -> None:
        from rich.table import Table

        console.print(
            f"[bold]{info['path']}[/]  format {info['format']} v{info['format_version']}, "
            f"val_fraction {info['val_fraction']}"
            + (
                f", {_fmt_bytes(info['disk_bytes'])} on disk"
                f" ({info['total_bytes'] / max(info['disk_bytes'], 1):.2f}x compression)"
                if "disk_bytes" in info and info["total_bytes"] >= 1 << 20
                else ""
            )
        )
        table = Table()
        for col in ("split", "documents", "bytes", "mean bytes/doc"):
            table.add_column(col, justify="left" if col == "split" else "right")
        for name, s in info["splits"].items():
            table.add_row(name, f"{s['docs']:,}", f"{s['bytes']:,}", f"{s['mean_doc_bytes']:,.1f}")
        table.add_row("total", f"{info['total_docs']:,}", f"{info['total_bytes']:,}", "")
        console.print(table)
        sources = info["sources"]
        src = Table(title=f"sources ({info['sources_total']:,})")
        for col in ("path", "documents", "document bytes", "file bytes"):
            src.add_column(col, justify="left" if col == "path" else "right")
        for s in sources[:20]:
            src.add_row(
                str(s.get("path")),
                f"{s.get('docs', 0):,}",
                f"{s.get('doc_bytes', 0):,}",
                f"{s['size']:,}" if "size" in s else "-",
            )
        if info["sources_total"] > 20:
            src.add_row(f"... {info['sources_total'] - 20:,} more (see --json)", "", "", "")
        console.print(src)
        options = ", ".join(f"{k}={v}" for k, v in info["options"].items() if k != "inputs")
        console.print(f"[dim]options: {options}[/]")

    return render


def register(app: typer.Typer) -> None:
    @app.command("prepare-corpus")
    def prepare_corpus_cmd(
        inputs: list[str] = typer.Argument(
            None, help="Files, directories (recursive), glob patterns, or - for stdin."
        ),
        out: Path = typer.Option(
            ..., "--out", "-o", help="The corpus store to write (a directory)."
        ),
        split_on: str = typer.Option(
            "file", "--split-on", help="Text files: one document per file, line or blank-line."
        ),
        field: str = typer.Option(
            "text", "--field", help="JSON field holding the text (a.b nests)."
        ),
        val_fraction: float = typer.Option(
            0.01, "--val-fraction", help="Share of documents in val."
        ),
        resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing store."),
        dedup: bool = typer.Option(False, "--dedup", help="Drop exact duplicate documents."),
        strict_utf8: bool = typer.Option(
            False, "--strict-utf8", help="Reject invalid UTF-8 (default: keep raw bytes)."
        ),
        workers: int = typer.Option(0, "--workers", help="Reader processes (0: one per core)."),
        builtin: str = typer.Option(
            None, "--builtin", help="A built-in corpus instead of inputs: pydocs."
        ),
        max_bytes: str = typer.Option(
            None,
            "--max-bytes",
            help=f"Stop after this much document text (e.g. 64MB; --builtin default {DEFAULT_BUILTIN_MAX_BYTES}).",
        ),
        zstd_level: int = typer.Option(
            1, "--zstd-level", help="zstd level of the store (1 fastest; 3 ~15% smaller)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        chunk_bytes: int = typer.Option(8 << 20, "--chunk-bytes", hidden=True),
        checkpoint_seconds: float = typer.Option(10.0, "--checkpoint-seconds", hidden=True),
        piece_bytes: int = typer.Option(32 << 20, "--piece-bytes", hidden=True),
    ) -> None:
        """Turn text files (txt, md, jsonl, json; gz/zst/xz/bz2) into a Zarr corpus store."""
        from bitcodec.ingest import PrepareOptions

        inputs = list(inputs or [])
        if not inputs and not builtin:
            raise UserError(
                "no inputs: name files, directories, patterns or -, or use --builtin pydocs"
            )
        if resume and overwrite:
            raise UserError("--resume and --overwrite contradict each other: pass one of them")
        if not 1 <= zstd_level <= 22:
            raise UserError(f"--zstd-level must be 1..22, got {zstd_level}")
        if workers < 0:
            raise UserError(f"--workers must be >= 0, got {workers}")
        if max_bytes is None and builtin:
            max_bytes = DEFAULT_BUILTIN_MAX_BYTES
        opts = PrepareOptions(
            split_on=split_on,
            field=field,
            strict_utf8=strict_utf8,
            val_fraction=val_fraction,
            dedup=dedup,
            workers=workers,
            max_bytes=parse_size(max_bytes, "--max-bytes") if max_bytes is not None else None,
            builtin=builtin,
            chunk_bytes=chunk_bytes,
            zstd_level=zstd_level,
            checkpoint_every_s=checkpoint_seconds,
            piece_bytes=piece_bytes,
        )
        stdin_data = sys.stdin.buffer.read() if "-" in inputs else None
        result = _run_with_progress(inputs, out, opts, overwrite, resume, stdin_data)
        emit(result, as_json, _render_prepare(result))

    corpus_app = typer.Typer(
        help="Inspect corpus stores.",
        context_settings={"help_option_names": ["-h", "--help"]},
        no_args_is_help=True,
    )

    @corpus_app.command("info")
    def info_cmd(
        store: str = typer.Argument(..., help="A corpus store (path or fsspec URL)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Counts, sizes, splits, sources and format of a corpus store."""
        info = corpus_info(store)
        emit(info, as_json, _render_info(info))

    app.add_typer(corpus_app, name="corpus")


def _run_with_progress(
    inputs: list[str], out: Path, opts: Any, overwrite: bool, resume: bool, stdin_data: bytes | None
) -> dict[str, Any]:
    from bitcodec.ingest import prepare_corpus
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    progress = Progress(
        TextColumn("[bold]prepare-corpus[/] {task.fields[docs]:>12,} docs"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
        disable=not stderr.is_terminal,  # no stray lines in logs and pipes
    )
    task_id = progress.add_task("read", total=None, docs=0)

    def update(done: int, total: int, docs: int) -> None:
        progress.update(task_id, completed=done, total=total or None, docs=docs)

    with progress:
        return prepare_corpus(
            inputs,
            out,
            opts,
            overwrite=overwrite,
            resume=resume,
            stdin_data=stdin_data,
            progress=update,
        )
