"""Turning the bytes of one input into documents: plain text, JSON lines, JSON.

Document rules (the same whether a file is read whole or in pieces):

- text, ``split_on="file"``: the file is one document, bytes exactly as stored.
- text, ``split_on="line"``: each line is a document, without its ``\\n`` / ``\\r\\n``.
- text, ``split_on="blank-line"``: each paragraph (a maximal run of non-blank lines) is a
  document, without the line break after its last line. A blank line holds only whitespace.
- ``.jsonl``: each non-blank line is a JSON object; the document is its ``field`` (a string;
  dotted names reach into nested objects). ``.json``: a list of such objects (or of strings),
  or one object.
- Documents that are empty or whitespace-only are skipped (and counted).

Bytes that are not valid UTF-8 are kept raw (JSON strings through ``surrogateescape``), unless
``strict_utf8`` asks to reject them; errors name the file and the byte offset or line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bitcodec.errors import BitcodecError
from bitcodec.parts import PART_BYTES
from bitcodec.streams import BLOCK_BYTES

SPLIT_MODES = ("file", "line", "blank-line")

_PARAGRAPH_SEP = re.compile(rb"\n(?:[ \t\r\f\v]*\n)+")
_WHITESPACE = frozenset(b" \t\n\r\f\v")


@dataclass(frozen=True)
class ReadOptions:
    """How inputs become documents (what a reader process needs to know).

    ``field``: the JSON field (dotted names nest), the CSV/TSV column (a name, or a 0-based
    index), or the Parquet/Arrow column (dotted names reach into struct columns).
    ``header``: CSV/TSV files start with a row of column names.
    """

    split_on: str = "file"
    field: str = "text"
    strict_utf8: bool = False
    header: bool = True
    block_bytes: int = BLOCK_BYTES
    part_bytes: int = PART_BYTES

    def __post_init__(self) -> None:
        if self.split_on not in SPLIT_MODES:
            raise BitcodecError(
                f"unknown split_on '{self.split_on}'",
                f"pass split_on= one of {', '.join(SPLIT_MODES)}",
            )
        if not self.field:
            raise BitcodecError("field is empty", "pass field= naming the text field or column")


def check_utf8(data: bytes, name: str, base_offset: int = 0) -> None:
    """Raise naming ``name`` and the byte offset of the first invalid UTF-8 sequence."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BitcodecError(
            f"{name}: invalid UTF-8 at byte offset {base_offset + exc.start}",
            "fix the file, or pass strict_utf8=False to keep raw bytes",
        ) from None


def _is_blank(doc: bytes) -> bool:
    return not doc.strip()


def _trim_blank_lines(part: bytes) -> bytes:
    """Drop whole blank lines at both ends and the last line's ``\\r`` (part is not blank)."""
    start, end = 0, len(part)
    if part[0] in _WHITESPACE:
        first = len(part) - len(part.lstrip())  # first non-whitespace byte
        start = part.rfind(b"\n", 0, first) + 1  # the start of its line
    if part[-1] in _WHITESPACE:
        last = len(part.rstrip())  # just after the last non-whitespace byte
        end = part.find(b"\n", last)  # the end of its line
        end = len(part) if end < 0 else end
    if end > start and part[end - 1] == 0x0D:  # \r
        end -= 1
    return part[start:end] if (start, end) != (0, len(part)) else part


def text_documents(data: bytes, split_on: str) -> tuple[list[bytes], int]:
    """(documents, number skipped as empty) for plain text."""
    if split_on == "file":
        return ([], 1) if _is_blank(data) else ([data], 0)
    if split_on == "line":
        lines = data.split(b"\n")
        if b"\r" in data:
            lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
        docs = [ln for ln in lines if ln.strip()]
        skipped = len(lines) - len(docs) - (1 if lines and lines[-1] == b"" else 0)
        return docs, skipped
    docs = []
    skipped = 0
    for part in _PARAGRAPH_SEP.split(data):
        if _is_blank(part):
            skipped += bool(part)
            continue
        docs.append(_trim_blank_lines(part))
    return docs, skipped


def _field_value(obj: Any, field: str) -> Any:
    if isinstance(obj, dict) and field in obj:
        return obj[field]
    value = obj
    for key in field.split("."):
        if not isinstance(value, dict) or key not in value:
            raise KeyError(field)
        value = value[key]
    return value


def _encode(value: str, strict: bool) -> bytes:
    if strict:
        return value.encode("utf-8")
    try:
        return value.encode("utf-8", "surrogateescape")  # raw bytes come back as they were
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")  # lone surrogates written as \udXXX


def encode_text(value: str, strict: bool, where: str, field: str) -> bytes:
    """A text value's UTF-8 bytes (raw bytes decoded with surrogateescape come back exactly)."""
    try:
        return _encode(value, strict)
    except UnicodeEncodeError as exc:
        raise BitcodecError(
            f"{where}: field '{field}' holds a lone surrogate at character {exc.start}, "
            "which is not valid UTF-8",
            "fix the file or pass strict_utf8=False",
        ) from None


def _doc_from_object(obj: Any, field: str, where: str, strict: bool) -> bytes | None:
    if isinstance(obj, str):
        value: Any = obj
    else:
        if not isinstance(obj, dict):
            raise BitcodecError(
                f"{where}: expected a JSON object with field '{field}', got {type(obj).__name__}",
                "check the file",
            )
        try:
            value = _field_value(obj, field)
        except KeyError:
            keys = ", ".join(list(map(str, obj))[:8]) or "none"
            raise BitcodecError(
                f"{where}: no field '{field}' in this JSON object (its keys: {keys})",
                "choose the text field with field=",
            ) from None
    if value is None:
        return None
    if not isinstance(value, str):
        raise BitcodecError(
            f"{where}: field '{field}' is a {type(value).__name__}, not a string",
            "choose a text field with field=",
        )
    return encode_text(value, strict, where, field)


def _parse_json(data: bytes, name: str, fix: str, line: Callable[[], int] | None = None) -> Any:
    """``data`` (UTF-8 JSON) parsed, or one error at ``name``:line (``line()``: the number of the
    line ``data`` is; None: the line of the error inside ``data``)."""
    try:
        return json.loads(data.decode("utf-8", "surrogateescape"))
    except json.JSONDecodeError as exc:
        at = exc.lineno if line is None else line()
        raise BitcodecError(
            f"{name}:{at}: not valid JSON ({exc.msg} at column {exc.colno})", fix
        ) from None


def jsonl_documents(
    data: bytes,
    name: str,
    field: str,
    strict: bool,
    first_line: Callable[[], int] = lambda: 1,
) -> tuple[list[bytes], int]:
    """(documents, skipped) for JSON lines; ``first_line()`` numbers data's first line."""
    docs: list[bytes] = []
    skipped = 0
    for i, line in enumerate(data.split(b"\n")):
        if not line.strip():
            continue
        obj = _parse_json(
            line,
            name,
            "fix that line, or pass format='text' to read the file as text",
            lambda i=i: first_line() + i,
        )
        try:
            doc = _doc_from_object(obj, field, "", strict)
        except BitcodecError as exc:
            raise BitcodecError(f"{name}:{first_line() + i}{exc.problem}", exc.fix) from None
        if doc is None or _is_blank(doc):
            skipped += 1
        else:
            docs.append(doc)
    return docs, skipped


def json_documents(data: bytes, name: str, field: str, strict: bool) -> tuple[list[bytes], int]:
    """(documents, skipped) for a .json file: a list of objects/strings, or one object."""
    value = _parse_json(data, name, "fix the file (for JSON lines pass format='jsonl')")
    items = value if isinstance(value, list) else [value]
    docs: list[bytes] = []
    skipped = 0
    for i, item in enumerate(items):
        where = f"{name}: item {i}" if isinstance(value, list) else name
        doc = _doc_from_object(item, field, where, strict)
        if doc is None or _is_blank(doc):
            skipped += 1
        else:
            docs.append(doc)
    return docs, skipped
