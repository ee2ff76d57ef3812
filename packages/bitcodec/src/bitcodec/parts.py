"""Parts: the documents of a task in bounded batches (concatenated bytes, lengths, digests).

A reader adds documents block by block; a part is cut once it holds ``part_bytes`` of document
bytes, right after the block that filled it. Blocks are cut at fixed positions of the input, so
a task always gives the same parts: a resumed run can skip the parts it already stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bitcodec.corpus_format import DIGEST_SIZE, digests_of

PART_BYTES = 16 << 20


@dataclass
class Part:
    """Documents of one part: concatenated bytes, int64 lengths [d], digests (16 bytes each)."""

    data: bytes | memoryview
    lengths: np.ndarray
    digests: bytes
    skipped_empty: int = 0

    @property
    def num_docs(self) -> int:
        return len(self.lengths)

    @property
    def num_bytes(self) -> int:
        return len(self.data)


def empty_part(skipped_empty: int = 0) -> Part:
    return Part(b"", np.zeros(0, np.int64), b"", skipped_empty)


class PartBuilder:
    """Collects documents; ``full`` once ``part_bytes`` are held; ``take`` empties it."""

    def __init__(self, part_bytes: int = PART_BYTES) -> None:
        self.part_bytes = part_bytes
        self._reset()

    def _reset(self) -> None:
        self._data: list[list[bytes] | list[memoryview]] = []  # documents, or whole views
        self._lengths: list[np.ndarray] = []
        self._digests: list[bytes] = []
        self._bytes = 0
        self.skipped = 0

    @property
    def full(self) -> bool:
        return self._bytes >= self.part_bytes

    def add_docs(self, docs: list[bytes], skipped: int = 0) -> None:
        self.skipped += skipped
        if not docs:
            return
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        self._data.append(docs)  # joined once, in take()
        self._lengths.append(lengths)
        self._digests.append(digests_of(docs))
        self._bytes += int(lengths.sum())

    def add_concatenated(
        self, data: bytes | memoryview, lengths: np.ndarray, skipped: int = 0
    ) -> None:
        """Documents given as their concatenation and int64 lengths."""
        self.skipped += skipped
        if len(lengths) == 0:
            return
        view = memoryview(data)
        ends = np.cumsum(lengths)
        starts = ends - lengths
        self._data.append([view])
        self._lengths.append(np.asarray(lengths, np.int64))
        bounds = zip(starts.tolist(), ends.tolist(), strict=True)
        self._digests.append(digests_of([view[a:b] for a, b in bounds]))
        self._bytes += len(view)

    def take(self) -> Part:
        pieces = [piece for docs in self._data for piece in docs]
        data: bytes | memoryview = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        part = Part(data, lengths, b"".join(self._digests), self.skipped)
        assert len(part.digests) == DIGEST_SIZE * part.num_docs
        self._reset()
        return part
