"""`bitlab prepare-corpus` (text -> Zarr corpus store) and `bitlab corpus info`."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from pathlib import Path
from typing import Any

import typer

from bitlab.commands import command_group
from bitlab.errors import UserError
from bitlab.output import emit, stderr

# Library settings named in bitcodec's messages (``resume=True``, ``field='x'``) -> our flags.
_FLAGGED = ("resume", "overwrite", "field", "binary", "split_on", "strict_utf8", "workers",
            "max_bytes", "builtin", "format", "header", "val_fraction", "dedup")  # fmt: skip
_SETTING = re.compile(r"\b(pass |drop )?(" + "|".join(_FLAGGED) + r")=(True|False|'[^']*'|\d+)?")
_NO_FLAG = {"header": "--no-header"}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}  # fmt: skip
DEFAULT_BUILTIN_MAX_BYTES = "64MB"
_SHOW_SKIPPED = 50
FORMATS = ("auto", "text", "jsonl", "json", "csv", "tsv", "parquet", "arrow")
BINARY = ("auto", "error", "skip", "keep")


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


def _as_flag(m: re.Match[str]) -> str:
    verb, name, value = m.group(1) or "", m.group(2), m.group(3)
    flag = "--" + name.replace("_", "-")
    if value == "False":
        if name in _NO_FLAG:
            return f"{verb}{_NO_FLAG[name]}"
        return f"drop {flag}" if verb else f"no {flag}"
    if value is None or value == "True":
        return f"{verb}{flag}"
    return f"{verb}{flag} {value.strip(chr(39))}"


def cli_message(exc: Exception) -> str:
    """bitcodec's message with its settings written as this command's flags."""
    text = _SETTING.sub(_as_flag, str(exc))
    return text.replace("prepare-corpus", "`bitlab prepare-corpus`").replace("``", "`")


@contextlib.contextmanager
def _flags_in_errors():
    """Re-raise bitcodec's errors with flags in place of library settings."""
    from bitcodec.errors import BitcodecError

    try:
        yield
    except BitcodecError as exc:
        raise UserError(cli_message(exc)) from exc


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
            + ("; stopped at --max-bytes" if result["capped_at_max_bytes"] else "")
            + ("; resumed" if result["resumed"] and not result["unchanged"] else "")
        )
        if result["unchanged"]:
            console.print("the store was already complete, from the same inputs and options: "
                          "nothing changed")  # fmt: skip
        skipped = result["skipped_binary_files"]
        if skipped:
            console.print(
                f"[yellow]{len(skipped):,} input files look binary and were skipped "
                "(--binary keep takes their raw bytes; all are listed in the store's manifest, "
                "`bitlab corpus info --json`):[/]"
            )
            for s in skipped[:_SHOW_SKIPPED]:
                console.print(
                    f"  {s['path']} ({s['size']:,} bytes)",
                    highlight=False,
                    markup=False,
                    soft_wrap=True,
                )
            if len(skipped) > _SHOW_SKIPPED:
                console.print(f"  ... {len(skipped) - _SHOW_SKIPPED:,} more (see --json)")

    return render


def _dir_size(path: Path) -> int:
    total = 0
    for root, _, names in os.walk(path):
        for n in names:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, n))
    return total


def corpus_info(store: str, verify: bool = False) -> dict[str, Any]:
    """What `bitlab corpus info` shows, as a dict; ``verify``: decode every chunk first."""
    from bitcodec.corpus_reader import open_corpus

    corpus = open_corpus(store)  # every chunk present (a missing one would read as zeros)
    verified = _verify(corpus) if verify else None
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
        "skipped_total": attrs.get("skipped_total", 0),
        "skipped": list(attrs.get("skipped", [])),
        "verified_chunks": verified,
    }
    if "://" not in store:
        info["disk_bytes"] = _dir_size(Path(store))
    return info


def _verify(corpus: Any) -> int:
    """Decode every chunk of ``corpus`` under a progress bar; the number of chunks read."""
    from bitlab.progress import progress_bar

    total = sum(stored.num_chunks for stored in corpus.chunks())
    with progress_bar() as bar:
        task = bar.add_task(f"corpus info: verifying {corpus.where}", total=total)
        return corpus.verify(lambda n: bar.advance(task, n))


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
        if info["skipped_total"]:
            console.print(f"skipped inputs ({info['skipped_total']:,}, binary):")
            for s in info["skipped"][:20]:
                console.print(
                    f"  {s['path']} ({s['size']:,} bytes)",
                    highlight=False,
                    markup=False,
                    soft_wrap=True,
                )
        options = ", ".join(f"{k}={v}" for k, v in info["options"].items() if k != "inputs")
        console.print(f"[dim]options: {options}[/]")
        if info["verified_chunks"] is not None:
            console.print(f"verified: all {info['verified_chunks']:,} chunks decode (checksums "
                          "checked where the store has them)")  # fmt: skip

    return render


def register(app: typer.Typer) -> None:
    @app.command("prepare-corpus")
    def prepare_corpus_cmd(
        inputs: list[str] = typer.Argument(
            None, help="Files, directories (recursive), glob patterns, fsspec URLs, or - for stdin."
        ),
        out: Path = typer.Option(
            ..., "--out", "-o", help="The corpus store to write (a directory)."
        ),
        split_on: str = typer.Option(
            "file", "--split-on", help="Text files: one document per file, line or blank-line."
        ),
        field: str = typer.Option(
            "text",
            "--field",
            help="Where the text is: JSON field, CSV/TSV column (name or 0-based index), "
            "Parquet/Arrow column; a.b nests.",
        ),
        fmt: str = typer.Option(
            "auto",
            "--format",
            help=f"Read every input as one format ({', '.join(FORMATS[1:])}); auto: by name "
            "and content (.json files of one object per line are JSON lines).",
        ),
        binary: str = typer.Option(
            "auto",
            "--binary",
            help="Inputs that look binary (a NUL byte in the first 8 KiB): error, skip (named "
            "in the summary and the manifest) or keep (raw bytes). auto: error for files named, "
            "skip for files found in directories.",
        ),
        header: bool = typer.Option(
            True, "--header/--no-header", help="CSV/TSV: the first row names the columns."
        ),
        val_fraction: float = typer.Option(
            0.01, "--val-fraction", help="Share of documents in val."
        ),
        resume: bool = typer.Option(
            False,
            "--resume",
            help="Continue an interrupted run; on a finished store: check it, change nothing.",
        ),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing store."),
        dedup: bool = typer.Option(False, "--dedup", help="Drop exact duplicate documents."),
        strict_utf8: bool = typer.Option(
            False, "--strict-utf8", help="Reject invalid UTF-8 (default: keep raw bytes)."
        ),
        workers: int = typer.Option(
            0, "--workers", help="Reader processes (0: one per core; 1: read in this process)."
        ),
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
        """Turn text, JSON lines, JSON, CSV/TSV, Parquet, Arrow and Hugging Face save_to_disk
        folders (gz/zst/xz/bz2 on top; local paths or fsspec URLs) into a Zarr corpus store."""
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
        for what, value, choices in (("--format", fmt, FORMATS), ("--binary", binary, BINARY)):
            if value not in choices:
                raise UserError(f"{what} '{value}' is unknown: choose one of {', '.join(choices)}")
        with _flags_in_errors():
            from bitcodec.writable import check_writable

            check_writable(out, "--out", beside=True)  # one line now, not after the reading
            opts = _options(
                split_on=split_on,
                field=field,
                format=fmt,
                binary=binary,
                header=header,
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

    corpus_app = command_group("Inspect corpus stores.")

    @corpus_app.command("info")
    def info_cmd(
        store: str = typer.Argument(..., help="A corpus store (path or fsspec URL)."),
        verify: bool = typer.Option(
            False,
            "--verify",
            help="Decode every chunk (zstd checksums too): reads the whole store. Without it, "
            "every chunk is checked to be there.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Counts, sizes, splits, sources and format of a corpus store; a missing or damaged
        chunk is one error naming it (exit 2)."""
        with _flags_in_errors():
            info = corpus_info(store, verify)
        emit(info, as_json, _render_info(info))

    app.add_typer(corpus_app, name="corpus")


def _options(**kwargs: Any) -> Any:
    from bitcodec.ingest import PrepareOptions

    return PrepareOptions(**kwargs)


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
