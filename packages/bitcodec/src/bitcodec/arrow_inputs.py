"""Parquet and Arrow IPC inputs (the optional extra ``bitcodec[arrow]``, on pyarrow).

One document per row, from the column ``field`` (a dotted name reaches into struct columns:
``meta.text``). String and binary columns (also large, view and dictionary-encoded ones) are
read straight from their Arrow buffers, record batch by record batch: no Python object per
row. Null and empty or whitespace-only cells are skipped and counted. Arrow files may be in the
IPC file form (``ARROW1`` magic) or the stream form (what ``datasets.save_to_disk`` writes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from bitcodec.errors import BitcodecError, MissingExtraError
from bitcodec.formats import ARROW_FILE_MAGIC
from bitcodec.ingest_split import ReadOptions, check_utf8
from bitcodec.streams import is_url, open_raw

PARQUET_BATCH_ROWS = 1024
_WS = np.zeros(256, dtype=bool)
_WS[list(b" \t\n\r\x0b\x0c")] = True  # what bytes.strip() removes


def require_pyarrow(path: str) -> Any:
    """The pyarrow module; MissingExtraError naming the extra when it is not installed."""
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.ipc
        import pyarrow.parquet
    except ImportError:
        raise MissingExtraError(
            f"reading '{path}' (Parquet / Arrow) needs pyarrow, which is not installed",
            "pip install 'bitcodec[arrow]' (or pip install pyarrow)",
            extra="arrow",
        ) from None
    return pyarrow


def _column_names(schema: Any) -> list[str]:
    names = []
    for f in schema:
        names.append(f.name)
        if hasattr(f.type, "num_fields") and f.type.num_fields and str(f.type).startswith("struct"):
            names += [f"{f.name}.{f.type.field(i).name}" for i in range(f.type.num_fields)]
    return names


def _top_and_path(field: str, schema: Any, where: str) -> tuple[str, list[str]]:
    names = schema.names
    if field in names:
        return field, []
    parts = field.split(".")
    for k in range(len(parts) - 1, 0, -1):
        top = ".".join(parts[:k])
        if top in names:
            return top, parts[k:]
    shown = ", ".join(_column_names(schema)[:30])
    raise BitcodecError(
        f"{where}: no column '{field}' (its columns: {shown})",
        "choose the text column with field= (dotted names reach into struct columns)",
    )


def _text_array(pa: Any, col: Any, field: str, path: list[str], where: str) -> Any:
    """The column as a (large_)string/binary Array, struct fields followed."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    for i, sub in enumerate(path):
        if not pa.types.is_struct(col.type) or col.type.get_field_index(sub) < 0:
            so_far = field.rsplit(".", len(path) - i)[0]
            raise BitcodecError(
                f"{where}: column '{so_far}' ({col.type}) has no field '{sub}'",
                "choose the text column with field=",
            )
        col = pa.compute.struct_field(col, [sub])
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    t = col.type
    if pa.types.is_string_view(t) or pa.types.is_binary_view(t):
        col = col.cast(pa.large_binary())
    elif not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
              or pa.types.is_large_binary(t)):  # fmt: skip
        raise BitcodecError(
            f"{where}: column '{field}' holds {t}, not text", "choose a text column with field="
        )
    return col


def array_documents(
    pa: Any, col: Any, strict: bool, where: str
) -> tuple[bytes | memoryview, np.ndarray, int]:
    """(concatenated documents, int64 lengths, skipped) of a string/binary Array."""
    n = len(col)
    if n == 0:
        return b"", np.zeros(0, np.int64), 0
    offsets_buf, data_buf = col.buffers()[1:3]
    wide = pa.types.is_large_string(col.type) or pa.types.is_large_binary(col.type)
    off = np.frombuffer(offsets_buf, np.int64 if wide else np.int32, count=col.offset + n + 1)
    off = off[col.offset :].astype(np.int64)  # [n + 1]
    lo, hi = int(off[0]), int(off[-1])
    data = memoryview(data_buf)[lo:hi] if data_buf is not None and hi > lo else memoryview(b"")
    lengths = np.diff(off)  # [n]
    rel = off[:-1] - lo  # [n] start of each cell in data
    arr = np.frombuffer(data, np.uint8)
    keep = np.ones(n, dtype=bool)
    if col.null_count:
        keep &= col.is_valid().to_numpy(zero_copy_only=False)
    # blank: empty, or whitespace only; only cells starting with whitespace need a closer look
    if len(arr):
        first = arr[np.minimum(rel, len(arr) - 1)]  # [n] first byte (junk where empty)
        maybe = keep & ((lengths == 0) | _WS[first])
    else:
        maybe = keep.copy()  # every cell is empty
    for i in np.flatnonzero(maybe).tolist():
        if not bytes(data[rel[i] : rel[i] + lengths[i]]).strip():
            keep[i] = False
    skipped = n - int(keep.sum())
    if strict:
        check_utf8(bytes(data), where)
    if skipped == 0:
        return data, lengths, 0
    kept = arr[np.repeat(keep, lengths)].tobytes()
    return kept, lengths[keep], skipped


@contextlib.contextmanager
def _source(pa: Any, path: str) -> Iterator[Any]:
    if is_url(path):
        with open_raw(path) as fh:
            yield pa.PythonFile(fh, mode="r")
    else:
        with pa.OSFile(path, "rb") as fh:
            yield fh


def _ipc_batches(pa: Any, source: Any) -> tuple[Any, Iterator[Any]]:
    """(schema, record batches) of an Arrow IPC file or stream."""
    magic = source.read(len(ARROW_FILE_MAGIC))
    source.seek(0)
    if magic == ARROW_FILE_MAGIC:
        reader = pa.ipc.open_file(source)
        return reader.schema, (reader.get_batch(i) for i in range(reader.num_record_batches))
    reader = pa.ipc.open_stream(source)
    return reader.schema, iter(reader)


def table_documents(
    path: str, kind: str, opts: ReadOptions
) -> Iterator[tuple[bytes | memoryview, np.ndarray, int]]:
    """(concatenated documents, int64 lengths, skipped) per record batch of a table file."""
    pa = require_pyarrow(path)
    try:
        with _source(pa, path) as source:
            if kind == "parquet":
                pf = pa.parquet.ParquetFile(source)
                top, sub = _top_and_path(opts.field, pf.schema_arrow, path)
                batches = pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[top])
            else:
                schema, batches = _ipc_batches(pa, source)
                top, sub = _top_and_path(opts.field, schema, path)
            for batch in batches:
                col = _text_array(pa, batch.column(top), opts.field, sub, path)
                yield array_documents(pa, col, opts.strict_utf8, path)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise BitcodecError(
            f"{path}: cannot read it as {kind.capitalize()} ({exc})",
            "check the file, or pass format= naming what it is",
        ) from None
