"""`bitlab codec encode TEXT` / `bitlab codec decode BITS`: bits grouped by byte, for quick looks."""

from __future__ import annotations

import itertools
import sys
from typing import Any

import typer

from bitlab.commands import command_group
from bitlab.errors import UserError
from bitlab.output import emit, stderr

_SEPARATORS = " _\t\r\n"


def _char_table(data: bytes) -> list[dict[str, Any]]:
    """One entry per character: its text, code point, byte offset and length (bitcodec rules:
    each byte of invalid UTF-8 is a character of its own, with no code point)."""
    import numpy as np
    from bitcodec import Utf8Role, utf8_roles

    roles = utf8_roles(data)
    starts = [*np.flatnonzero(roles != Utf8Role.CONT).tolist(), len(data)]
    chars = []
    for begin, end in itertools.pairwise(starts):
        piece = data[begin:end]
        valid = int(roles[begin]) != Utf8Role.INVALID
        ch = piece.decode("utf-8") if valid else None
        chars.append({
            "char": ch,
            "codepoint": f"U+{ord(ch):04X}" if ch is not None else None,
            "byte_offset": begin,
            "num_bytes": end - begin,
        })  # fmt: skip
    return chars


def _bit_groups(data: bytes) -> list[str]:
    return [f"{b:08b}" for b in data]


def _render_bytes(result: dict[str, Any], data: bytes):
    def render(console) -> None:
        from bitcodec import Utf8Role, utf8_roles
        from rich.table import Table

        line = " ".join(result["bits_by_byte"])
        console.print(line, markup=False, highlight=False, soft_wrap=True)
        if not data:
            return
        roles = utf8_roles(data)
        char_at = {c["byte_offset"]: c for c in result["chars"]}
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for col in ("byte", "hex", "bits", "role", "char"):
            table.add_column(col, justify="right" if col in ("byte", "hex") else "left")
        for i, (byte, bits) in enumerate(zip(data, result["bits_by_byte"], strict=True)):
            c = char_at.get(i)
            if c is None:
                shown = "  (continued)"
            elif c["char"] is None:
                shown = "invalid byte"
            else:
                shown = f"{c['char']!r} {c['codepoint']}"
            table.add_row(str(i), f"{byte:02X}", bits, Utf8Role(int(roles[i])).name, shown)
        console.print(table, markup=False, highlight=False, emoji=False)

    return render


def _parse_bits(parts: list[str]) -> bytes:
    """'01001000 0110_1001' (any number of arguments) -> the bytes they spell."""
    import numpy as np
    from bitcodec import bits_to_bytes

    joined = " ".join(parts)
    for pos, ch in enumerate(joined):
        if ch not in "01" and ch not in _SEPARATORS:
            raise UserError(
                f"BITS has {ch!r} at character {pos}: write only 0 and 1, "
                "optionally grouped with spaces or underscores (e.g. 01001000_01101001)"
            )
    digits = "".join(ch for ch in joined if ch in "01")
    if not digits:
        raise UserError("BITS is empty: give the bits to decode, e.g. 01001000 01101001")
    if len(digits) % 8:
        extra = len(digits) % 8
        raise UserError(
            f"BITS has {len(digits)} bit{'' if len(digits) == 1 else 's'}, not a multiple of 8 (one byte is 8 bits): "
            f"remove {extra} or add {8 - extra}"
        )
    bits = np.frombuffer(digits.encode("ascii"), dtype=np.uint8) - ord("0")  # [8n] of 0/1
    return bits_to_bytes(bits)


def register(app: typer.Typer) -> None:
    codec_app = command_group(
        "Look at text as bits and bits as text (UTF-8, MSB first, 8 bits per byte)."
    )

    @codec_app.command("encode")
    def encode(
        text: str = typer.Argument(..., help="Text to encode; '-' reads standard input."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Print the UTF-8 bits of TEXT, one group of 8 per byte, with the character of each byte.

        Invalid UTF-8 in TEXT (or on standard input) is shown byte by byte as INVALID.
        """
        from bitcodec import bytes_to_bits, text_to_bits

        if text == "-":
            data = sys.stdin.buffer.read()
        else:
            # Arguments that are not valid UTF-8 reach Python surrogate-escaped: recover the
            # raw bytes, so that invalid bytes can be looked at too.
            try:
                data = text.encode("utf-8", errors="surrogateescape")
            except UnicodeEncodeError:
                text_to_bits(text)  # raises BitcodecError naming the lone surrogate
                raise
        text = data.decode("utf-8", errors="surrogateescape")
        bits = bytes_to_bits(data)  # uint8 [8n]
        result = {
            "text": text,
            "bytes": list(data),
            "bits": "".join("01"[b] for b in bits.tolist()),
            "bits_by_byte": _bit_groups(data),
            "chars": _char_table(data),
        }
        emit(result, as_json, _render_bytes(result, data))

    @codec_app.command("decode")
    def decode(
        bits: list[str] = typer.Argument(
            ..., help="Bits, e.g. 01001000 01101001 (spaces or underscores between groups)."
        ),
        strict: bool = typer.Option(
            False, "--strict", help="Fail on invalid UTF-8 instead of showing U+FFFD."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Decode BITS (MSB first) to bytes and show them as UTF-8 text."""
        data = _parse_bits(bits)
        first_invalid = None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if strict:
                raise UserError(
                    f"BITS are not valid UTF-8: {exc.reason} at byte offset {exc.start} "
                    f"(bit {8 * exc.start}, byte 0x{data[exc.start]:02X}): "
                    "drop --strict to see the text with U+FFFD in place of invalid bytes"
                ) from None
            first_invalid = exc.start
            text = data.decode("utf-8", errors="replace")
        result = {
            "text": text,
            "bytes": list(data),
            "valid_utf8": first_invalid is None,
            "first_invalid_byte": first_invalid,
        }

        def render(console) -> None:
            console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
            if first_invalid is not None:
                stderr.print(
                    f"note: not valid UTF-8 (first bad byte at offset {first_invalid}, "
                    f"0x{data[first_invalid]:02X}); invalid bytes are shown as U+FFFD. "
                    "Use --strict to fail instead.",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )

        emit(result, as_json, render)

    app.add_typer(codec_app, name="codec")
