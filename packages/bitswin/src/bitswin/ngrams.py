"""Hashed byte n-gram embeddings over the shown bytes (BLT's encoder hash embeddings).

Every byte position t gets, for each n in ``ngram_sizes`` and each of ``ngram_hashes`` hash
functions, one row of a table of ``ngram_buckets`` rows: the bucket of the n symbols ending at
t. The rows are summed onto the byte token. An embedding lookup is memory, not multiply-adds:
the tables add parameters at no matmul cost (facebookresearch/blt ``local_models.py``,
``encoder_hash_byte_group_size``: several n, several hash functions, 30k buckets each).

What goes into a hash is only what the model is shown: a fully shown byte is its value (0..255),
a byte with any hidden bit is one symbol ``UNKNOWN`` (its shown bits are not used), and
positions before the byte's document (another segment, padding, before the row) are ``OUTSIDE``.
So no hidden byte's value ever reaches an input, an n-gram never crosses a document start, and
padding changes nothing; padding positions themselves get no n-gram rows. The n-gram ending at
a hidden byte is its left context plus ``UNKNOWN``: the row learns what tends to follow it.

Hashing is a polynomial over the symbols modulo the prime 2^31 - 1 in int64 (no overflow:
every product stays below 2^63), one multiplier per hash function, then modulo the bucket count.
It depends on nothing but the symbols, so it is the same on CPU and CUDA, in training and in
evaluation (``ngram_ids`` is the one function both use).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bitswin.config import NGRAM_MAX_HASHES
from bitswin.routing import ByteView, segment_starts

UNKNOWN = 256  # a byte with a hidden bit
OUTSIDE = 257  # before the document (or the row), or padding
_MODULUS = 2**31 - 1  # a prime; symbols + 1 <= 258 and multipliers < 2^31 keep int64 exact
# One multiplier per hash function (below 2^31, far from powers of two).
_MULTIPLIERS = (1_000_000_007, 1_500_450_271, 1_302_311_087, 2_029_911_233, 1_717_171_733)
assert len(_MULTIPLIERS) == NGRAM_MAX_HASHES


def ngram_symbols(view: ByteView) -> torch.Tensor:
    """long [B, L]: the byte value where fully shown, UNKNOWN where any bit is hidden, OUTSIDE
    on padding."""
    sym = torch.where(view.shown, view.value, torch.full_like(view.value, UNKNOWN))
    return torch.where(view.valid, sym, torch.full_like(sym, OUTSIDE))


def _document_offsets(valid: torch.Tensor, segment_ids: torch.Tensor | None) -> torch.Tensor:
    """long [B, L]: how many earlier positions belong to the same document (0 at its start)."""
    pos = torch.arange(valid.shape[1], device=valid.device).expand_as(valid)
    start = segment_starts(valid, segment_ids) | ~valid  # padding: nothing before it counts
    return pos - torch.cummax(torch.where(start, pos, 0), dim=1).values


def ngram_ids(
    symbols: torch.Tensor,
    offsets: torch.Tensor,
    sizes: tuple[int, ...],
    hashes: int,
    buckets: int,
) -> torch.Tensor:
    """long [B, L, len(sizes) * hashes]: the bucket of each n-gram ending at each position,
    offset into one stacked table (table k = (size index) * hashes + hash function).

    symbols: long [B, L] (``ngram_symbols``); offsets: long [B, L] earlier positions of the same
    document (``OUTSIDE`` is used beyond them)."""
    n = symbols.shape[1]
    longest = max(sizes)
    # shifted[k] = symbol k positions back, OUTSIDE before the document: [longest, B, L]
    padded = F.pad(symbols, (longest - 1, 0), value=OUTSIDE)
    shifted = torch.stack(
        [padded[:, longest - 1 - k : longest - 1 - k + n] for k in range(longest)]
    )
    back = torch.arange(longest, device=symbols.device)[:, None, None]
    shifted = torch.where(back <= offsets[None], shifted, torch.full_like(shifted, OUTSIDE)) + 1
    out = []
    for h in range(hashes):
        mult = _MULTIPLIERS[h]
        acc = torch.zeros_like(symbols)
        by_size: dict[int, torch.Tensor] = {}
        for k in range(longest):  # acc = sum_j sym[t - j] * mult^j mod p, for j < k + 1
            acc = (acc + shifted[k] * pow(mult, k, _MODULUS)) % _MODULUS
            by_size[k + 1] = acc
        out.append([by_size[s] % buckets for s in sizes])
    table = [
        out[h][i] + (i * hashes + h) * buckets for i in range(len(sizes)) for h in range(hashes)
    ]
    return torch.stack(table, dim=-1)


class NgramEmbedding(nn.Module):
    """Sum of the hashed n-gram rows of every position: ByteView -> [B, L, D] (0 on padding)."""

    def __init__(
        self, sizes: tuple[int, ...], hashes: int, buckets: int, dim: int, init_std: float
    ) -> None:
        super().__init__()
        self.sizes, self.hashes, self.buckets = tuple(sizes), int(hashes), int(buckets)
        tables = len(self.sizes) * self.hashes
        self.table = nn.EmbeddingBag(tables * self.buckets, dim, mode="sum")
        nn.init.normal_(self.table.weight, std=init_std)

    def forward(self, view: ByteView, segment_ids: torch.Tensor | None) -> torch.Tensor:
        offsets = _document_offsets(view.valid, segment_ids)
        ids = ngram_ids(ngram_symbols(view), offsets, self.sizes, self.hashes, self.buckets)
        b, n, k = ids.shape
        rows = self.table(ids.reshape(b * n, k))  # [BL, D]: the sum of the k rows
        return rows.reshape(b, n, -1) * view.valid[..., None].to(rows.dtype)
