"""Windows over a context, in bytes, the same for every model kind.

One model input is the question's UTF-8 bytes (cut to ``max_question_bytes`` at a character
boundary), the separator byte ``\\n`` and a piece of the context's bytes, ``length`` bytes in all.
A context longer than its piece is read in overlapping pieces: consecutive pieces share about
``stride`` bytes (Hugging Face's ``doc_stride``), and every piece starts and ends at a character
boundary, so no window splits a UTF-8 character. The windows depend on the text alone, never on
the model: a byte model and a token model read the same bytes (the token model tokenises each
piece on its own). Spans found in a window come back as byte offsets into the context and are
mapped to the exact characters that hold those bytes (``ContextBytes.chars``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from bittrain.tasks.span_encoders import SEPARATOR, PairInput

from bitbench.errors import BitbenchError


@dataclass(frozen=True)
class WindowSettings:
    length: int = 384  # bytes of question + separator + context piece
    stride: int = 128  # context bytes shared by consecutive pieces
    max_question_bytes: int = 96

    def check(self) -> None:
        min_piece = self.length - self.max_question_bytes - len(SEPARATOR)
        if self.max_question_bytes < 4 or min_piece < 16:
            raise BitbenchError(
                f"--window {self.length} leaves {min_piece} context bytes after a question of "
                f"up to {self.max_question_bytes} bytes: use a window of at least "
                f"{self.max_question_bytes + len(SEPARATOR) + 16} bytes"
            )
        if not 0 <= self.stride < min_piece // 2 + 1:
            raise BitbenchError(
                f"--stride {self.stride} must be at least 0 and at most half of the "
                f"{min_piece} context bytes of a window: lower it or raise --window"
            )

    def to_dict(self) -> dict[str, int | str]:
        return {
            "length_bytes": self.length,
            "stride_bytes": self.stride,
            "max_question_bytes": self.max_question_bytes,
            "separator": SEPARATOR.decode(),
        }


@dataclass(frozen=True)
class ContextBytes:
    """A context's UTF-8 bytes and where each character starts."""

    text: str
    data: bytes
    char_start: np.ndarray  # int64 [chars + 1]: first byte of each character, then len(data)

    @classmethod
    def of(cls, text: str) -> ContextBytes:
        sizes = [len(ch.encode("utf-8")) for ch in text]
        starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        return cls(text, text.encode("utf-8"), starts)

    def char_at(self, byte: int) -> int:
        """The index of the character holding byte offset ``byte``."""
        return int(np.searchsorted(self.char_start, byte, side="right")) - 1

    def chars(self, b0: int, b1: int) -> tuple[int, int]:
        """[c0, c1): the characters holding bytes [b0, b1) (widened to whole characters)."""
        if not 0 <= b0 < b1 <= len(self.data):
            raise ValueError(f"byte span [{b0}, {b1}) is outside the context's {len(self.data)}")
        return self.char_at(b0), self.char_at(b1 - 1) + 1

    def byte_span(self, c0: int, c1: int) -> tuple[int, int]:
        return int(self.char_start[c0]), int(self.char_start[c1])

    def floor(self, byte: int) -> int:
        """The start of the character holding ``byte`` (``len(data)`` stays)."""
        if byte >= len(self.data):
            return len(self.data)
        return int(self.char_start[self.char_at(byte)])


def question_bytes(question: str, max_bytes: int) -> bytes:
    """The question's UTF-8 bytes, cut at the last character boundary within ``max_bytes``."""
    data = question.strip().encode("utf-8")
    if len(data) <= max_bytes:
        return data
    return data[:max_bytes].decode("utf-8", errors="ignore").encode("utf-8")


def context_windows(ctx: ContextBytes, piece: int, stride: int) -> list[tuple[int, int]]:
    """[b0, b1) byte ranges of the context pieces (see the module doc): the first starts at 0,
    the last ends at the context's end, consecutive ones overlap by about ``stride`` bytes."""
    n = len(ctx.data)
    if n == 0:
        return [(0, 0)]
    out: list[tuple[int, int]] = []
    start = 0
    while True:
        end = n if start + piece >= n else ctx.floor(start + piece)
        if end <= start:  # one character longer than the piece: take it whole
            end = int(ctx.char_start[ctx.char_at(start) + 1])
        out.append((start, end))
        if end >= n:
            return out
        nxt = ctx.floor(max(end - stride, start + 1))
        start = nxt if nxt > start else end


@dataclass(frozen=True)
class QAWindow:
    """One model input: question ``example`` reading context bytes [b0, b1)."""

    example: int  # index into the examples of the call
    question: bytes
    b0: int
    b1: int

    def pair(self, context: bytes) -> PairInput:
        """The model's input: the question, the separator, the context bytes [b0, b1)."""
        return PairInput(self.question, context[self.b0 : self.b1], self.b0)


def windows_of(
    contexts: list[ContextBytes], questions: list[str], settings: WindowSettings
) -> list[QAWindow]:
    """Every window of every question (example i reads ``contexts[i]``), in example order."""
    out = []
    for i, (ctx, question) in enumerate(zip(contexts, questions, strict=True)):
        q = question_bytes(question, settings.max_question_bytes)
        piece = settings.length - len(q) - len(SEPARATOR)
        for b0, b1 in context_windows(ctx, piece, settings.stride):
            out.append(QAWindow(i, q, b0, b1))
    return out
