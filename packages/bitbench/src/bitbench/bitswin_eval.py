"""A trained BitSwinModel seen as an ``EvalModel``, plus the bitswin-only measurements.

Inputs are built here from true bytes and a per-byte (or per-bit) hidden mask: hidden positions
show MASK_ID, padding shows PAD_ID, everything else shows the true bit. Masks come from bitmask
(``make_masks``) with a fixed seed and global sample indices, so the numbers do not depend on the
batch size. Each level is measured with its own mask alone, at its appendix-B rate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bitbench.errors import BitbenchError

log = logging.getLogger(__name__)

LEVEL_NAMES = ("bit", "byte", "word", "phrase")
# Appendix B rates: each level is measured with its own mask alone at this rate.
APPENDIX_B_RATES = {"bit": 0.15, "byte": 0.20, "word": 0.25, "phrase": 0.30}


def bits_of(windows: torch.Tensor) -> torch.Tensor:
    """uint8/long [B, L] bytes -> long [B, 8L] bits, MSB first (bitcodec's order)."""
    shifts = torch.arange(7, -1, -1, device=windows.device)
    bits = (windows.long().unsqueeze(-1) >> shifts) & 1  # [B, L, 8]
    return bits.reshape(windows.shape[0], -1)  # [B, 8L]


def build_input_ids(
    windows: torch.Tensor,
    *,
    hidden_bytes: torch.Tensor | None = None,
    hidden_bits: torch.Tensor | None = None,
    pad: torch.Tensor | None = None,
) -> torch.Tensor:
    """Model input ids [B, 8L]: true bits, MASK_ID where hidden, PAD_ID on padding bytes."""
    from bitcodec.tokens import MASK_ID, PAD_ID

    ids = bits_of(windows)  # [B, 8L]
    if hidden_bits is not None:
        ids = ids.masked_fill(hidden_bits.bool(), MASK_ID)
    if hidden_bytes is not None:
        ids = ids.masked_fill(hidden_bytes.bool().repeat_interleave(8, dim=1), MASK_ID)
    if pad is not None:
        ids = ids.masked_fill(pad.bool().repeat_interleave(8, dim=1), PAD_ID)
    return ids


def segment_ids_from(doc_starts: np.ndarray | torch.Tensor | None) -> torch.Tensor | None:
    """Document-start flags [B, L] -> segment ids [B, L] (0 until the first start inside)."""
    if doc_starts is None:
        return None
    starts = torch.as_tensor(np.asarray(doc_starts, dtype=bool))
    return torch.cumsum(starts.long(), dim=1)


class BitSwinEval:
    """EvalModel for bitswin runs (``kind = "bitswin"``)."""

    kind = "bitswin"

    def __init__(
        self,
        model: Any,
        *,
        device: str = "cpu",
        batch_size: int = 8,
        target_unit_bytes: float = 5.0,
        max_len: int = 1024,
        code_table: Any = None,
        code_level: int = 2,
        boundary_source: str = "model",
    ) -> None:
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.target_unit_bytes = target_unit_bytes
        self.max_len = max_len
        self._last_unmasked: tuple[str, np.ndarray, np.ndarray] | None = None
        # Runs trained with encoding-table codes as input (code_vocab_size > 0) need the table.
        self.code_table = code_table
        self.boundary_source = boundary_source
        self.code_level = code_level
        if int(getattr(self.config, "code_vocab_size", 0)) > 0 and code_table is None:
            raise BitbenchError(
                "this bitswin model takes encoding-table codes (code_vocab_size > 0) but no table "
                "was given: evaluate the run directory (its table/ or config table_codes)"
            )

    @classmethod
    def from_dir(cls, model_dir: str | Path, *, device: str = "cpu", **kwargs: Any) -> BitSwinEval:
        from bitswin import BitSwinModel

        return cls(
            BitSwinModel.from_pretrained(model_dir, map_location=device), device=device, **kwargs
        )

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def num_params(self) -> int:
        return int(self.model.num_parameters())

    def flops_per_byte(self, seq_len_bytes: int) -> float:
        from bitswin import estimate_flops_per_byte

        return float(estimate_flops_per_byte(self.config, seq_len_bytes))

    # --- forward passes -------------------------------------------------------------------

    def _chunks(self, n: int) -> Iterator[slice]:
        for start in range(0, n, self.batch_size):
            yield slice(start, min(n, start + self.batch_size))

    def code_ids(self, windows: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor | None:
        """long [B, L]: the table code of the unit covering each byte, or -1 ("no code") for
        padding and for every byte of a unit with any hidden bit, so that codes never reveal
        what is masked. None when the model takes no codes."""
        if self.code_table is None:
            return None
        from bitcodec.tokens import BIT0, BIT1, PAD_ID

        b, n = windows.shape
        bits = input_ids.cpu().reshape(b, n, 8)
        intact = ((bits == BIT0) | (bits == BIT1)).all(dim=-1).numpy()  # [B, L] all bits shown
        pad = (bits == PAD_ID).all(dim=-1).numpy()  # [B, L]
        rows = windows.cpu().numpy()
        out = np.full((b, n), -1, dtype=np.int64)
        for i in range(b):
            where = np.flatnonzero(~pad[i])  # the real bytes, encoded as one text
            if where.size == 0:
                continue
            text = np.ascontiguousarray(rows[i, where])
            codes = np.asarray(self.code_table.encode(text, self.code_level), dtype=np.int64)
            lengths = np.array([len(p) for p in self.code_table.pieces(codes, self.code_level)])
            unit = np.repeat(np.arange(codes.size), lengths)  # [n_real] unit of each byte
            ok = np.ones(codes.size, dtype=bool)
            np.logical_and.at(ok, unit, intact[i, where])  # usable when all its bytes are shown
            out[i, where] = np.where(ok[unit], codes[unit], -1)
        return torch.from_numpy(out)

    @torch.no_grad()
    def _forward(
        self,
        input_ids: torch.Tensor,
        segment_ids: torch.Tensor | None = None,
        return_attention: bool = False,
        *,
        windows: torch.Tensor | None = None,
    ) -> Any:
        seg = None if segment_ids is None else segment_ids.to(self.device)
        codes = None
        if self.code_table is not None:
            if windows is None:
                raise BitbenchError("internal: table codes need the windows of the forward pass")
            codes = self.code_ids(windows, input_ids).to(self.device)
        return self.model(
            input_ids.to(self.device),
            segment_ids=seg,
            code_ids=codes,
            return_attention=return_attention,
        )

    @staticmethod
    def _as_tensor(windows: np.ndarray) -> torch.Tensor:
        windows = np.asarray(windows)
        if windows.ndim != 2 or windows.dtype != np.uint8:
            raise BitbenchError(
                f"windows must be uint8 [N, L], got {windows.dtype} {windows.shape}: pass bytes "
                "from CorpusSplit.sample_windows"
            )
        return torch.from_numpy(np.array(windows, dtype=np.uint8, copy=True))  # writable copy

    def _pad_tensor(self, pad: np.ndarray | None, shape: tuple[int, ...]) -> torch.Tensor:
        if pad is None:
            return torch.zeros(shape, dtype=torch.bool)
        return torch.as_tensor(np.asarray(pad, dtype=bool))

    def _masks(
        self,
        windows: torch.Tensor,
        pad: torch.Tensor,
        *,
        seed: int,
        rates: dict[str, float],
        boundaries: torch.Tensor | None = None,
    ) -> Any:
        """bitmask's masks with only the named levels on, at the given rates (no curriculum);
        global sample indices so a window's mask never depends on the batch it is in."""
        from bitmask import MaskConfig, make_masks

        config = MaskConfig(target_unit_bytes=float(self.target_unit_bytes))
        return make_masks(
            windows,
            config,
            step=0,
            boundaries=boundaries,
            seed=seed,
            sample_index=torch.arange(windows.shape[0]),
            pad_mask=pad,
            rates=rates,
        )

    # --- EvalModel ------------------------------------------------------------------------

    def masked_bits(
        self,
        windows: np.ndarray,
        *,
        rate: float = 0.15,
        seed: int = 0,
        pad: np.ndarray | None = None,
        doc_starts: np.ndarray | None = None,
    ) -> tuple[float, int]:
        """Sum of -log2 p(true byte) over a fixed-seed ``rate`` byte mask, and the masked count."""
        w = self._as_tensor(windows)
        pad_t = self._pad_tensor(pad, tuple(w.shape))
        hidden = self._masks(w, pad_t, seed=seed, rates={"byte": rate}).mask_byte & ~pad_t
        seg = segment_ids_from(doc_starts)
        total_bits, total_bytes = 0.0, 0
        for sl in self._chunks(w.shape[0]):
            ids = build_input_ids(w[sl], hidden_bytes=hidden[sl], pad=pad_t[sl])
            out = self._forward(ids, None if seg is None else seg[sl], windows=w[sl])
            logp = torch.log_softmax(out.byte_logits.float(), dim=-1)  # [b, L, 256]
            true_logp = logp.gather(-1, w[sl].long().to(logp.device).unsqueeze(-1))[..., 0]
            sel = hidden[sl].to(logp.device)
            total_bits += float(-true_logp[sel].sum()) / math.log(2.0)
            total_bytes += int(sel.sum())
        return total_bits, total_bytes

    def hidden_byte_bits(
        self,
        windows: np.ndarray,
        hidden: np.ndarray,
        *,
        doc_starts: np.ndarray | None = None,
        pad: np.ndarray | None = None,
    ) -> np.ndarray:
        """float32 [N, L]: -log2 p(true byte | every byte not hidden) at the ``hidden`` bytes
        (bool [N, L]), 0 elsewhere; one forward with them all hidden (bitbench.protocol_scores).
        Table codes come from the shown bytes only (hidden ones zeroed, their units "no
        code"), so nothing the model is fed depends on a hidden byte's value."""
        w = self._as_tensor(windows)
        pad_t = self._pad_tensor(pad, tuple(w.shape))
        hide = torch.as_tensor(np.asarray(hidden, dtype=bool)) & ~pad_t  # [N, L]
        shown = w.masked_fill(hide, 0)  # what the table may read
        seg = segment_ids_from(doc_starts)
        out = np.zeros(tuple(w.shape), dtype=np.float32)
        for sl in self._chunks(w.shape[0]):
            if not bool(hide[sl].any()):
                continue
            ids = build_input_ids(shown[sl], hidden_bytes=hide[sl], pad=pad_t[sl])
            res = self._forward(ids, None if seg is None else seg[sl], windows=shown[sl])
            logp = torch.log_softmax(res.byte_logits.float(), dim=-1)  # [b, L, 256]
            true = logp.gather(-1, w[sl].long().to(logp.device).unsqueeze(-1))[..., 0]  # [b, L]
            bits = (-true / math.log(2.0)).masked_fill(~hide[sl].to(true.device), 0.0)
            out[sl] = bits.cpu().numpy()
        return out

    def _unmasked(
        self, windows: np.ndarray, pad: np.ndarray | None, doc_starts: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(boundary float32 [N, L], byte_hidden float32 [N, L, D]) of the unmasked windows. The
        last result is kept: boundary F1 and consistency read the same rows, one forward pass."""
        import hashlib

        digest = hashlib.blake2b(digest_size=16)
        for part in (windows, pad, doc_starts):
            digest.update(b"-" if part is None else np.ascontiguousarray(part).tobytes())
            digest.update(repr(None if part is None else np.shape(part)).encode())
        key = digest.hexdigest()
        if self._last_unmasked is not None and self._last_unmasked[0] == key:
            return self._last_unmasked[1], self._last_unmasked[2]
        w = self._as_tensor(windows)
        pad_t = self._pad_tensor(pad, tuple(w.shape))
        seg = segment_ids_from(doc_starts)
        scores, states = [], []
        for sl in self._chunks(w.shape[0]):
            ids = build_input_ids(w[sl], pad=pad_t[sl])
            out = self._forward(ids, None if seg is None else seg[sl], windows=w[sl])
            scores.append(out.boundary.float().cpu().numpy())
            states.append(out.byte_hidden.float().cpu().numpy())
        result = (np.concatenate(scores, axis=0), np.concatenate(states, axis=0))
        self._last_unmasked = (key, *result)
        return result

    def byte_states(
        self,
        windows: np.ndarray,
        *,
        pad: np.ndarray | None = None,
        doc_starts: np.ndarray | None = None,
    ) -> np.ndarray:
        """Final byte representations float32 [N, L, D] of the unmasked windows."""
        return self._unmasked(windows, pad, doc_starts)[1]

    def features(self, texts: list[bytes]) -> np.ndarray:
        """Mean of the final byte representations over each text -> float32 [N, D]; texts longer
        than ``max_len`` are read in ``max_len`` pieces (each piece sees only itself); an empty
        text gives zeros. Rows are batched by length so short texts cost little."""
        from bitbench.segment import pack_windows

        dim = int(self.config.hidden_size)
        sums = np.zeros((len(texts), dim), dtype=np.float64)
        if any(len(t) for t in texts):
            windows, pad, pieces = pack_windows(texts, self.max_len)  # [M, max_len]
            lengths = (~pad).sum(axis=1)
            order = np.argsort(-lengths, kind="stable")
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                width = int(lengths[rows].max())
                w = torch.from_numpy(np.ascontiguousarray(windows[rows, :width]))
                p = torch.from_numpy(np.ascontiguousarray(pad[rows, :width]))
                out = self._forward(build_input_ids(w, pad=p), windows=w)
                hidden = out.byte_hidden.float()  # [b, W, D]
                hidden = hidden.masked_fill(p.unsqueeze(-1).to(hidden.device), 0.0)
                pooled = hidden.sum(dim=1).double().cpu().numpy()  # [b, D]
                for row, vec in zip(rows.tolist(), pooled, strict=True):
                    sums[pieces[row][0]] += vec
        lengths_per_text = np.array([max(1, len(t)) for t in texts], dtype=np.float64)
        return (sums / lengths_per_text[:, None]).astype(np.float32)

    # --- bitswin-only -----------------------------------------------------------------------

    def boundary_scores(
        self,
        windows: np.ndarray,
        *,
        pad: np.ndarray | None = None,
        doc_starts: np.ndarray | None = None,
    ) -> np.ndarray:
        """Unit-start scores float32 [N, L] (higher = a unit starts): the boundary head on the
        unmasked windows, or, for runs whose units came from prediction entropy
        (``boundary_source="entropy"``), the entropy in bits of the byte head at each byte with
        every other byte hidden (two passes: odd bytes hidden, then even), as in training."""
        from bitmask import char_level_scores

        if self.boundary_source == "entropy":
            raw = self._entropy_scores(windows, pad, doc_starts)
        else:
            raw = self._unmasked(windows, pad, doc_starts)[0]
        # As in training: a unit starts only at a character start, scored by the whole character.
        scores = char_level_scores(torch.as_tensor(np.asarray(windows)), torch.from_numpy(raw))
        return scores.numpy().astype(np.float32)

    def _entropy_scores(
        self, windows: np.ndarray, pad: np.ndarray | None, doc_starts: np.ndarray | None
    ) -> np.ndarray:
        w = self._as_tensor(windows)
        pad_t = self._pad_tensor(pad, tuple(w.shape))
        seg = segment_ids_from(doc_starts)
        odd = (torch.arange(w.shape[1]) % 2).bool().expand(w.shape[0], -1)  # [N, L]
        scores = np.zeros(w.shape, dtype=np.float32)
        for hide in (odd, ~odd):
            for sl in self._chunks(w.shape[0]):
                ids = build_input_ids(w[sl], hidden_bytes=hide[sl] & ~pad_t[sl], pad=pad_t[sl])
                out = self._forward(ids, None if seg is None else seg[sl], windows=w[sl])
                logp = torch.log_softmax(out.byte_logits.float(), dim=-1)  # [b, L, 256]
                entropy = (-(logp.exp() * logp).sum(-1) / math.log(2.0)).cpu().numpy()
                scores[sl] = np.where(hide[sl].numpy(), entropy, scores[sl])
        return scores

    def attention_maps(
        self, windows: np.ndarray, *, doc_starts: np.ndarray | None = None
    ) -> list[Any]:
        """Per stage, the head-averaged attention maps of the unmasked windows (numpy), batched
        along N: stage 1 [N, depth, 8L, 2W-1], later stages [N, depth, L, 2W-1]."""
        w = self._as_tensor(windows)
        seg = segment_ids_from(doc_starts)
        per_batch = []
        for sl in self._chunks(w.shape[0]):
            ids = build_input_ids(w[sl])
            out = self._forward(ids, None if seg is None else seg[sl], True, windows=w[sl])
            per_batch.append([a.float().cpu().numpy() for a in out.attentions])
        return [np.concatenate(stage, axis=0) for stage in zip(*per_batch, strict=True)]

    def boundary_with_attention(
        self, windows: np.ndarray, *, doc_starts: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One forward pass: boundary scores float32 [N, L] and the last (byte-level) stage's
        attention maps [N, depth, L, 2W-1] (enctable's banded layout), for growing a table."""
        w = self._as_tensor(windows)
        seg = segment_ids_from(doc_starts)
        scores, maps = [], []
        for sl in self._chunks(w.shape[0]):
            ids = build_input_ids(w[sl])
            out = self._forward(ids, None if seg is None else seg[sl], True, windows=w[sl])
            scores.append(out.boundary.float().cpu().numpy())
            maps.append(out.attentions[-1].float().cpu().numpy())
        head = np.concatenate(scores, axis=0)
        if self.boundary_source == "entropy":
            head = self._entropy_scores(windows, None, doc_starts)
        return head, np.concatenate(maps, axis=0)

    def level_accuracies(
        self,
        windows: np.ndarray,
        *,
        seed: int = 0,
        pad: np.ndarray | None = None,
        doc_starts: np.ndarray | None = None,
        boundaries: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """acc_bit / acc_byte / acc_word / acc_phrase: each level's mask alone (appendix-B rates),
        word and phrase units from the model's own boundary scores (computed when not given).
        Also returns the number of hidden positions per level (``n_<level>``)."""
        w = self._as_tensor(windows)
        pad_t = self._pad_tensor(pad, tuple(w.shape))
        if boundaries is None:
            boundaries = self.boundary_scores(windows, pad=pad, doc_starts=doc_starts)
        bounds = torch.as_tensor(np.asarray(boundaries, dtype=np.float32))
        masks = {
            level: self._masks(w, pad_t, seed=seed, rates={level: rate}, boundaries=bounds)
            for level, rate in APPENDIX_B_RATES.items()
        }
        seg = segment_ids_from(doc_starts)
        right = dict.fromkeys(LEVEL_NAMES, 0)
        count = dict.fromkeys(LEVEL_NAMES, 0)
        pad_bits = pad_t.repeat_interleave(8, dim=1)
        for sl in self._chunks(w.shape[0]):
            s = None if seg is None else seg[sl]
            bit_mask = masks["bit"].mask_bit[sl] & ~pad_bits[sl]
            ids = build_input_ids(w[sl], hidden_bits=bit_mask, pad=pad_t[sl])
            out = self._forward(ids, s, windows=w[sl])
            bits = bits_of(w[sl]).to(out.bit_logits.device)
            hit = ((out.bit_logits > 0).long() == bits) & bit_mask.to(bits.device)
            right["bit"] += int(hit.sum())
            count["bit"] += int(bit_mask.sum())
            for level in ("byte", "word", "phrase"):
                hidden = getattr(masks[level], f"mask_{level}")[sl] & ~pad_t[sl]
                if not bool(hidden.any()):
                    continue
                ids = build_input_ids(w[sl], hidden_bytes=hidden, pad=pad_t[sl])
                out = self._forward(ids, s, windows=w[sl])
                pred = out.byte_logits.argmax(dim=-1).cpu()
                right[level] += int(((pred == w[sl].long()) & hidden).sum())
                count[level] += int(hidden.sum())
        result: dict[str, Any] = {}
        for level in LEVEL_NAMES:
            result[f"acc_{level}"] = right[level] / count[level] if count[level] else None
            result[f"n_{level}"] = count[level]
        return result

    @torch.no_grad()
    def byte_log_probs(self, data: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        """log p(byte) float64 [L, 256] for one sequence with ``hidden`` bytes masked (fill)."""
        w = self._as_tensor(np.asarray(data, dtype=np.uint8)[None])
        h = torch.as_tensor(np.asarray(hidden, dtype=bool)[None])
        out = self._forward(build_input_ids(w, hidden_bytes=h), windows=w)
        return torch.log_softmax(out.byte_logits[0].double(), dim=-1).cpu().numpy()
