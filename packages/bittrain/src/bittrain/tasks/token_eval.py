"""The scoring primitive of token-level EvalModels (the BPE baseline, hf-bert, any local Hugging
Face masked LM): bits of hidden tokens, placed at each token's first byte.

Rows are tokenised piece by piece (bittrain.hidden.token_layout), cut at document starts and at
``cuts``, by default the edges of the hidden runs: no visible token is built from hidden bytes,
and every hidden token lies inside one hidden run. The model sees [MASK] for each hidden token,
so it is told how many tokens a hidden piece has (as in BERT's task; a byte model is told how
many bytes), and nothing else about the hidden bytes.
"""

from __future__ import annotations

import numpy as np
import torch

from bittrain.engine.bits import target_bits
from bittrain.engine.contracts import Flags, OptFlags, Windows
from bittrain.engine.inputs import byte_windows
from bittrain.errors import BittrainError
from bittrain.hidden.token_layout import PieceEncoder, RowTokens, layout_rows, token_start_mask


def mean_pool(hidden: torch.Tensor, real: torch.Tensor) -> np.ndarray:
    """float32 [B, D]: the mean of hidden [B, T, D] over the real positions (bool [B, T]); zeros
    for rows without any (the pooled features of the baselines' and Hugging Face models)."""
    weights = real.to(hidden.dtype).unsqueeze(-1)  # [B, T, 1]
    total = (hidden * weights).sum(dim=1)  # [B, D]
    count = weights.sum(dim=1).clamp_min(1.0)  # [B, 1]
    return (total / count).float().cpu().numpy()


def hidden_run_edges(hidden: np.ndarray) -> np.ndarray:
    """bool [N, L]: the first byte of each hidden run and the byte after its end."""
    hidden = np.asarray(hidden, dtype=bool)
    prev = np.concatenate([np.zeros((hidden.shape[0], 1), dtype=bool), hidden[:, :-1]], axis=1)
    return hidden != prev


def token_inputs(
    rows: list[RowTokens],
    hidden: Flags,
    *,
    max_tokens: int,
    mask_id: int,
    pad_id: int,
    bos: int | None = None,
    eos: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(input ids int64 [B, T] with [MASK] at hidden tokens, document ids int64 [B, T] (-1 on
    padding), hidden-token flags bool [B, T], first byte of each token int64 [B, T]). ``bos`` /
    ``eos``: ids put before / after each row's tokens (a Hugging Face model's [CLS] / [SEP])."""
    lead = int(bos is not None)
    width = max([len(r) for r in rows] + [1]) + lead + int(eos is not None)
    if width > max_tokens:
        raise BittrainError(
            f"a window has {width} tokens, more than the model's {max_tokens} positions: "
            "evaluate with a shorter --seq-len"
        )
    b = len(rows)
    ids = np.full((b, width), pad_id, dtype=np.int64)
    docs = np.full((b, width), -1, dtype=np.int64)
    target = np.zeros((b, width), dtype=bool)
    first = np.zeros((b, width), dtype=np.int64)
    for r, row in enumerate(rows):
        n = len(row)
        csum = np.concatenate([[0], np.cumsum(hidden[r], dtype=np.int64)])  # [L + 1]
        own = csum[row.starts + row.lengths] - csum[row.starts]  # [n] hidden bytes per token
        is_hidden = own > 0
        if np.any(is_hidden & (own < row.lengths)):
            raise BittrainError(
                "hidden bytes cut a token in two: hide whole tokens (pass cuts at the edges of "
                "the hidden spans)"
            )
        ids[r, lead : lead + n] = np.where(is_hidden, mask_id, row.ids)
        docs[r, lead : lead + n] = row.docs
        target[r, lead : lead + n] = is_hidden
        first[r, lead : lead + n] = row.starts
        if bos is not None:
            ids[r, 0], docs[r, 0] = bos, row.docs[0] if n else 0
        if eos is not None:
            ids[r, lead + n], docs[r, lead + n] = eos, row.docs[-1] if n else 0
    return ids, docs, target, first


class TokenScoring:
    """Mixin: ``token_starts`` and ``hidden_token_bits`` over a piece encoder and a logits
    function. Subclasses set ``_piece_encoder``, ``_max_tokens``, ``_mask_id``, ``_pad_id`` and
    implement ``_masked_logits(ids, docs, select) -> [M, V]`` (``device`` is a torch device)."""

    device: torch.device
    _batch = 32

    def _piece_encoder(self) -> PieceEncoder:
        raise NotImplementedError

    _max_tokens: int
    _mask_id: int
    _pad_id: int
    _bos: int | None = None
    _eos: int | None = None

    def _masked_logits(
        self, ids: torch.Tensor, docs: torch.Tensor, select: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def _rows(self, windows, doc_starts, pad, cuts) -> list[RowTokens]:
        arr = byte_windows(windows)
        return layout_rows(self._piece_encoder(), arr, doc_starts=doc_starts, pad=pad, cuts=cuts)

    def token_starts(
        self,
        windows: Windows,
        *,
        doc_starts: OptFlags = None,
        pad: OptFlags = None,
        cuts: OptFlags = None,
    ) -> np.ndarray:
        """bool [N, L]: the first byte of each of the model's tokens, tokenised piece by piece
        with pieces cut at document starts and ``cuts``."""
        rows = self._rows(windows, doc_starts, pad, cuts)
        return token_start_mask(rows, np.asarray(windows).shape)

    @torch.no_grad()
    def hidden_token_bits(
        self,
        windows: Windows,
        hidden: Flags,
        *,
        doc_starts: OptFlags = None,
        pad: OptFlags = None,
        cuts: OptFlags = None,
    ) -> np.ndarray:
        """float32 [N, L]: -log2 p(true token | every token not hidden) at the first byte of
        each hidden token, 0 elsewhere. ``hidden`` (bool [N, L]) must be whole tokens of the
        tokenisation cut at ``cuts`` (default: the edges of the hidden runs)."""
        hidden = np.asarray(hidden, dtype=bool)
        if pad is not None:
            hidden = hidden & ~np.asarray(pad, dtype=bool)
        if cuts is None:
            cuts = hidden_run_edges(hidden)
        rows = self._rows(windows, doc_starts, pad, cuts)
        out = np.zeros(hidden.shape, dtype=np.float32)
        for start in range(0, len(rows), self._batch):
            part = rows[start : start + self._batch]
            ids, docs, target, first = token_inputs(
                part,
                hidden[start : start + len(part)],
                max_tokens=self._max_tokens,
                mask_id=self._mask_id,
                pad_id=self._pad_id,
                bos=self._bos,
                eos=self._eos,
            )
            if not target.any():
                continue
            select = torch.from_numpy(target).to(self.device)
            logits = self._masked_logits(
                torch.from_numpy(ids).to(self.device),
                torch.from_numpy(docs).to(self.device),
                select,
            )  # [M, V]
            true = torch.from_numpy(ids_true(part, target, int(self._bos is not None)))  # [M]
            bits = target_bits(logits, true.to(logits.device)).cpu().numpy()
            rr, tt = np.nonzero(target)
            np.add.at(out, (start + rr, first[rr, tt]), bits)  # tokens may share a first byte
        return out


def ids_true(rows: list[RowTokens], target: np.ndarray, lead: int) -> np.ndarray:
    """int64 [M]: the true ids of the hidden tokens, in row-major order of ``target`` (whose
    columns are shifted by ``lead``, the [CLS]-like token before each row)."""
    rr, tt = np.nonzero(target)
    return np.array(
        [rows[r].ids[t - lead] for r, t in zip(rr.tolist(), tt.tolist(), strict=True)],
        dtype=np.int64,
    )
