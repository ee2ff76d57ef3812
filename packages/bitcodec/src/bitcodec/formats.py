"""What an input file is: its format and compression, from its name or its first bytes.

Formats: ``text``, ``jsonl``, ``json``, ``csv``, ``tsv``, ``parquet``, ``arrow`` (Arrow IPC,
file or stream form: Hugging Face ``save_to_disk`` shards are streams), plus ``raw`` (a file
kept whole as bytes, for binary inputs under ``binary='keep'``). Compression (``gz``, ``zst``,
``xz``, ``bz2``) comes from the suffix on top of the format's (``x.jsonl.zst``) or, without a
suffix, from the magic number. A ``.json`` file whose first line is a whole JSON object and
that has more lines is JSON Lines (the C4 layout ``c4-train.00000-of-01024.json.gz``).

A file *looks binary* when its first 8 KiB (after decompression) hold a NUL byte, as git
decides; Parquet and Arrow inputs are binary by nature and are never judged so.
"""

from __future__ import annotations

import json

from bitcodec.errors import BitcodecError

FORMATS = ("text", "jsonl", "json", "csv", "tsv", "parquet", "arrow")
AUTO = "auto"
TABLE_FORMATS = frozenset({"parquet", "arrow"})  # read with pyarrow, never decompressed by us
LINE_FORMATS = frozenset({"jsonl", "tsv"})  # records never span a line break
BINARY_POLICIES = ("auto", "error", "skip", "keep")  # auto: named -> error, found -> skip

COMPRESSIONS = {".gz": "gz", ".zst": "zst", ".zstd": "zst", ".xz": "xz", ".bz2": "bz2"}
_MAGIC = (
    (b"\x1f\x8b", "gz"),
    (b"\x28\xb5\x2f\xfd", "zst"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bz2"),
)
_BY_SUFFIX = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
SNIFF_BYTES = 8192
ARROW_FILE_MAGIC = b"ARROW1"
PARQUET_MAGIC = b"PAR1"


def check_format(fmt: str) -> str:
    if fmt != AUTO and fmt not in FORMATS:
        raise BitcodecError(
            f"unknown format '{fmt}'", f"pass format= one of {', '.join((AUTO, *FORMATS))}"
        )
    return fmt


def check_binary_policy(policy: str) -> str:
    if policy not in BINARY_POLICIES:
        raise BitcodecError(
            f"unknown binary policy '{policy}'", f"pass binary= one of {', '.join(BINARY_POLICIES)}"
        )
    return policy


def split_name(path: str) -> tuple[str, str | None]:
    """(format from the name or "text", compression from the suffix): ``x.jsonl.zst``."""
    name = path.lower().rstrip("/")
    compression = None
    for suffix, comp in COMPRESSIONS.items():
        if name.endswith(suffix):
            compression, name = comp, name[: -len(suffix)]
            break
    for suffix, fmt in _BY_SUFFIX.items():
        if name.endswith(suffix):
            return fmt, compression
    return "text", compression


def compression_from_magic(head: bytes) -> str | None:
    for magic, comp in _MAGIC:
        if head.startswith(magic):
            return comp
    return None


def looks_binary(head: bytes) -> bool:
    """True when the first SNIFF_BYTES of a file's (decompressed) content hold a NUL byte."""
    return b"\x00" in head[:SNIFF_BYTES]


def table_format_of(head: bytes) -> str | None:
    """``parquet`` / ``arrow`` when the raw first bytes are their magic numbers."""
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(ARROW_FILE_MAGIC) or head.startswith(b"\xff\xff\xff\xff"):
        return "arrow"
    return None


def json_or_jsonl(head: bytes) -> str:
    """``jsonl`` when the first line of ``head`` is a whole JSON value and more lines follow."""
    text = head.lstrip()
    if not text.startswith(b"{"):
        return "json"
    first, sep, rest = text.partition(b"\n")
    if not sep or not rest.strip():
        return "json"  # one line: one object (a .json file)
    try:
        json.loads(first.decode("utf-8", "surrogateescape"))
    except ValueError:
        return "json"  # a pretty-printed object spans lines
    return "jsonl"
