"""A trained BitSwinModel seen as an ``EvalModel``, plus the bitswin-only measurements.

Every forward goes through :mod:`bittrain.engine`: the model is shown true bytes with MASK_ID at
hidden positions and PAD_ID on padding (``shown_ids``), segment ids from document starts, and
table codes computed from the shown bytes only (``TableCodes``). Boundary scores are
:func:`bittrain.engine.boundary_scores`, the recipe training uses. Masks and the per-level
accuracies: :mod:`bittrain.tasks.bitswin_levels` (fixed seeds, independent of the batch size).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bitmask import bit_ids
from bitswin import BitSwinModel, estimate_flops_per_byte
from bittokens import DEFAULT_UNIT_BYTES

from bittrain.engine.bits import target_bits
from bittrain.engine.codes import TableCodes
from bittrain.engine.contracts import Flags, OptFlags, Windows
from bittrain.engine.inputs import as_tensor, byte_windows, forward, model_inputs, shown_ids
from bittrain.engine.precision import autocast
from bittrain.engine.unit_scores import boundary_scores, model_units, own_starts_threshold
from bittrain.engine.windows import pack_windows
from bittrain.errors import BittrainError
from bittrain.rundir import RunInfo, boundary_source, code_table_of, target_unit_bytes
from bittrain.tasks.bitswin_levels import LevelAccuracies, eval_masks
from bittrain.tasks.span_encoders import BitSwinSpanEncoder

log = logging.getLogger(__name__)


def _rows(array: np.ndarray | None, sl: slice) -> np.ndarray | None:
    return None if array is None else array[sl]


class BitSwinEval(LevelAccuracies):
    """EvalModel for bitswin runs (``kind = "bitswin"``)."""

    kind = "bitswin"

    def __init__(
        self,
        model: Any,
        *,
        device: str = "cpu",
        batch_size: int = 8,
        target_unit_bytes: float = DEFAULT_UNIT_BYTES,
        max_len: int = 1024,
        code_table: Any = None,
        code_level: int = 2,
        boundary_source: str = "model",
        precision: str = "auto",
    ) -> None:
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.target_unit_bytes = target_unit_bytes
        self.max_len = max_len
        self.precision = precision
        self.boundary_source = boundary_source
        # Runs trained with encoding-table codes as input (code_vocab_size > 0) need the table.
        self.codes = TableCodes(code_table, code_level) if code_table is not None else None
        if self.config.code_vocab_size > 0 and self.codes is None:
            raise BittrainError(
                "this bitswin model takes encoding-table codes (code_vocab_size > 0) but no table "
                "was given: evaluate the run directory (its table/ or config table_codes)"
            )
        self._last_unmasked: tuple[str, np.ndarray] | None = None
        # What the forwards actually ran, per byte: distinct bit patterns, unit slots per level
        # (the hierarchy's cost depends on them; bitswin.flops).
        self._ran: list[tuple[float, list[float]]] = []

    @classmethod
    def from_dir(cls, model_dir: str | Path, *, device: str = "cpu", **kwargs: Any) -> BitSwinEval:
        return cls(
            BitSwinModel.from_pretrained(model_dir, map_location=device), device=device, **kwargs
        )

    def untrained(self) -> BitSwinEval:
        """The same model with freshly initialised weights (seed 0): the consistency control."""
        torch.manual_seed(0)
        return BitSwinEval(
            BitSwinModel(self.config),
            device=str(self.device),
            batch_size=self.batch_size,
            target_unit_bytes=self.target_unit_bytes,
            code_table=None if self.codes is None else self.codes.table,
            code_level=2 if self.codes is None else self.codes.level,
            boundary_source=self.boundary_source,
            precision=self.precision,
        )

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def num_params(self) -> int:
        return int(self.model.num_parameters())

    def flops_per_byte(self, seq_len_bytes: int) -> float:
        """Forward FLOPs per byte at rows of ``seq_len_bytes``: with the mean distinct bit
        patterns and unit slots per byte of the forwards run so far (bitswin's upper bound
        before any)."""
        if not self._ran:
            return float(estimate_flops_per_byte(self.config, seq_len_bytes))
        patterns = float(np.mean([p for p, _ in self._ran]))
        slots = [
            max(1, math.ceil(float(np.mean(level)) * seq_len_bytes))
            for level in zip(*(s for _, s in self._ran), strict=True)
        ]
        return float(
            estimate_flops_per_byte(
                self.config,
                seq_len_bytes,
                bit_patterns_per_byte=min(1.0, patterns),
                unit_slots=slots or None,
            )
        )

    # --- forward passes -------------------------------------------------------------------

    def _chunks(self, n: int) -> Iterator[slice]:
        for start in range(0, n, self.batch_size):
            yield slice(start, min(n, start + self.batch_size))

    @torch.no_grad()
    def _forward(
        self, input_ids: torch.Tensor, doc_starts: OptFlags = None, return_attention: bool = False
    ) -> Any:
        """One forward of shown ids long [b, 8L] (codes from the shown bytes only)."""
        inputs = model_inputs(input_ids, doc_starts, self.codes).to(self.device)
        with autocast(self.device, self.precision):
            out = forward(self.model, inputs, return_attention=return_attention)
        m, n = out.metrics, input_ids.shape[1] // 8
        slots = [float(m[k]) / n for k in ("word_slots", "phrase_slots") if k in m]
        self._ran.append((float(m.get("bit_patterns_per_byte", 1.0)), slots))
        return out

    @staticmethod
    def _as_tensor(windows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(byte_windows(windows), copy=True))  # writable copy

    @staticmethod
    def _pad_tensor(pad: np.ndarray | None, shape: tuple[int, ...]) -> torch.Tensor:
        if pad is None:
            return torch.zeros(shape, dtype=torch.bool)
        return torch.as_tensor(np.asarray(pad, dtype=bool))

    # --- EvalModel ------------------------------------------------------------------------

    def masked_bits(
        self,
        windows: Windows,
        *,
        rate: float = 0.15,
        seed: int = 0,
        pad: OptFlags = None,
        doc_starts: OptFlags = None,
    ) -> tuple[float, int]:
        """Sum of -log2 p(true byte) over a fixed-seed ``rate`` byte mask, and the masked count."""
        w = self._as_tensor(windows)
        pad_t = self._pad_tensor(pad, tuple(w.shape))
        masks = eval_masks(
            w, pad_t, target_unit_bytes=self.target_unit_bytes, seed=seed, rates={"byte": rate}
        )
        hidden = (masks.mask_byte & ~pad_t).numpy()
        bits = self.hidden_byte_bits(windows, hidden, doc_starts=doc_starts, pad=pad)
        return float(bits.sum(dtype=np.float64)), int(hidden.sum())

    @torch.no_grad()
    def hidden_byte_bits(
        self, windows: Windows, hidden: Flags, *, doc_starts: OptFlags = None, pad: OptFlags = None
    ) -> np.ndarray:
        """float32 [N, L]: -log2 p(true byte | every byte not hidden) at the ``hidden`` bytes
        (bool [N, L]), 0 elsewhere; one forward with them all hidden (bittrain.hidden.scores).
        The model is fed through the engine's one input path: nothing it sees (bits, segment
        ids, table codes) depends on a hidden byte's value."""
        w = self._as_tensor(windows)
        pad_t = self._pad_tensor(pad, tuple(w.shape))
        hide = torch.as_tensor(np.asarray(hidden, dtype=bool)) & ~pad_t  # [N, L]
        out = np.zeros(tuple(w.shape), dtype=np.float32)
        for sl in self._chunks(w.shape[0]):
            if not bool(hide[sl].any()):
                continue
            ids = shown_ids(w[sl], hidden_bytes=hide[sl], pad=pad_t[sl])
            res = self._forward(ids, _rows(doc_starts, sl))
            true = w[sl].long().to(res.byte_logits.device)  # [b, L]
            bits = target_bits(res.byte_logits, true).masked_fill(~hide[sl].to(true.device), 0.0)
            out[sl] = bits.cpu().numpy()
        return out

    def byte_states(
        self, windows: Windows, *, pad: OptFlags = None, doc_starts: OptFlags = None
    ) -> np.ndarray:
        """Final byte representations float32 [N, L, D] of the unmasked windows (the last result
        is kept: boundary F1 and consistency read the same rows)."""
        key = _digest(windows, pad, doc_starts)
        if self._last_unmasked is not None and self._last_unmasked[0] == key:
            return self._last_unmasked[1]
        w = self._as_tensor(windows)
        pad_t = self._pad_tensor(pad, tuple(w.shape))
        states = []
        for sl in self._chunks(w.shape[0]):
            out = self._forward(shown_ids(w[sl], pad=pad_t[sl]), _rows(doc_starts, sl))
            states.append(out.byte_hidden.float().cpu().numpy())
        result = np.concatenate(states, axis=0)
        self._last_unmasked = (key, result)
        return result

    def features(self, texts: list[bytes]) -> np.ndarray:
        """Mean of the final byte representations over each text -> float32 [N, D]; texts longer
        than ``max_len`` are read in ``max_len`` pieces (each piece sees only itself); an empty
        text gives zeros. Rows are batched by length so short texts cost little."""
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
                hidden = self._forward(shown_ids(w, pad=p)).byte_hidden.float()  # [b, W, D]
                hidden = hidden.masked_fill(p.unsqueeze(-1).to(hidden.device), 0.0)
                pooled = hidden.sum(dim=1).double().cpu().numpy()  # [b, D]
                for row, vec in zip(rows.tolist(), pooled, strict=True):
                    sums[pieces[row][0]] += vec
        lengths_per_text = np.array([max(1, len(t)) for t in texts], dtype=np.float64)
        return (sums / lengths_per_text[:, None]).astype(np.float32)

    def span_encoder(self) -> BitSwinSpanEncoder:
        """Per-byte states with gradients, for question answering (bitbench.qa)."""
        return BitSwinSpanEncoder(self.model, codes=self.codes, precision=self.precision)

    # --- bitswin-only -----------------------------------------------------------------------

    def _engine_chunks(
        self,
        recipe: Any,
        windows: Windows,
        pad: np.ndarray | None,
        doc_starts: np.ndarray | None,
        **options: Any,
    ) -> Iterator[Any]:
        """An engine recipe (``boundary_scores`` / ``model_units``: model, bytes, doc starts,
        pad, codes) on each chunk of rows, on the model's device: one result per chunk."""
        w = self._as_tensor(windows)
        pad_t = None if pad is None else self._pad_tensor(pad, tuple(w.shape))
        for sl in self._chunks(w.shape[0]):
            starts = as_tensor(_rows(doc_starts, sl), torch.bool)
            with autocast(self.device, self.precision):
                result = recipe(
                    self.model,
                    w[sl].to(self.device),
                    None if starts is None else starts.to(self.device),
                    pad=None if pad_t is None else pad_t[sl].to(self.device),
                    codes=self.codes,
                    **options,
                )
            yield result

    @torch.no_grad()
    def _boundaries(
        self,
        windows: Windows,
        pad: np.ndarray | None,
        doc_starts: np.ndarray | None,
        return_attention: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """engine.boundary_scores over the rows in chunks -> (scores [N, L], per-stage maps)."""
        scores, maps = [], []
        for result in self._engine_chunks(
            boundary_scores,
            windows,
            pad,
            doc_starts,
            source=self.boundary_source,
            return_attention=return_attention,
        ):
            scores.append(result.scores.float().cpu().numpy())
            if return_attention:
                maps.append([a.float().cpu().numpy() for a in result.attentions])
        stages = [_stack_rows(s) for s in zip(*maps, strict=True)] if maps else []
        return np.concatenate(scores, axis=0).astype(np.float32), stages

    def boundary_scores(
        self, windows: Windows, *, pad: OptFlags = None, doc_starts: OptFlags = None
    ) -> np.ndarray:
        """Unit-start scores float32 [N, L] (higher = a unit starts), as in training: the model's
        own unit starts, or for runs whose units came from prediction entropy
        (``boundary_source="entropy"``) the byte head's entropy with every other byte hidden."""
        return self._boundaries(windows, pad, doc_starts)[0]

    @property
    def own_starts_threshold(self) -> float | None:
        """Scores above this are the model's own word-unit starts (its level-1 router's, as it
        computes with them); None when units come from a cut of the scores (no unit levels,
        router "none", or entropy boundaries)."""
        return own_starts_threshold(self.model, self.boundary_source)

    @torch.no_grad()
    def own_units(
        self, windows: Windows, *, pad: OptFlags = None, doc_starts: OptFlags = None
    ) -> tuple[np.ndarray, ...] | None:
        """Per unit level (word, phrase), bool [N, L]: the unit starts the model computes with on
        the unmasked windows (engine.model_units, as training builds word/phrase masks), or None
        without units of its own."""
        if self.own_starts_threshold is None:
            return None
        parts = [
            tuple(u.cpu().numpy() for u in units.starts)
            for units in self._engine_chunks(model_units, windows, pad, doc_starts)
        ]
        return tuple(np.concatenate(level, axis=0) for level in zip(*parts, strict=True))

    def attention_maps(self, windows: Windows, *, doc_starts: OptFlags = None) -> list[Any]:
        """Per stage, in the model's ``stage_names`` order (the byte stage last), the
        head-averaged attention maps of the unmasked windows (numpy) [N, depth, items, 2W-1]:
        8L bits, L bytes, or the word / phrase units (their count varies by row: rows are
        zero-padded to the longest)."""
        w = self._as_tensor(windows)
        per_batch = []
        for sl in self._chunks(w.shape[0]):
            out = self._forward(bit_ids(w[sl]), _rows(doc_starts, sl), True)
            per_batch.append([a.float().cpu().numpy() for a in out.attentions])
        return [_stack_rows(stage) for stage in zip(*per_batch, strict=True)]

    def boundary_with_attention(
        self, windows: Windows, *, doc_starts: OptFlags = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Boundary scores float32 [N, L] and the last (byte-level) stage's attention maps
        [N, depth, L, 2W-1] (enctable's banded layout), for growing a table."""
        scores, stages = self._boundaries(windows, None, doc_starts, return_attention=True)
        return scores, stages[-1]

    @torch.no_grad()
    def byte_log_probs(self, data: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        """log p(byte) float64 [L, 256] for one sequence with ``hidden`` bytes masked (fill)."""
        w = self._as_tensor(np.asarray(data, dtype=np.uint8)[None])
        h = torch.as_tensor(np.asarray(hidden, dtype=bool)[None])
        out = self._forward(shown_ids(w, hidden_bytes=h))
        return torch.log_softmax(out.byte_logits[0].double(), dim=-1).cpu().numpy()


def _stack_rows(chunks: tuple[np.ndarray, ...]) -> np.ndarray:
    """Concatenate per-chunk maps [b, depth, items, 2W-1] along rows, zero-padding ``items``
    (a coarse stage has as many as the chunk's longest row of units)."""
    items = max(c.shape[2] for c in chunks)
    padded = [np.pad(c, ((0, 0), (0, 0), (0, items - c.shape[2]), (0, 0))) for c in chunks]
    return np.concatenate(padded, axis=0)


def _digest(*parts: np.ndarray | None) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(b"-" if part is None else np.ascontiguousarray(part).tobytes())
        digest.update(repr(None if part is None else np.shape(part)).encode())
    return digest.hexdigest()


def load_bitswin_eval(info: RunInfo, device: str = "cpu") -> BitSwinEval:
    """A bitswin run directory as an EvalModel, with the table and unit settings it trained with."""
    table, level = code_table_of(info)
    return BitSwinEval.from_dir(
        info.model_dir,
        device=device,
        target_unit_bytes=target_unit_bytes(info),
        code_table=table,
        code_level=level,
        boundary_source=boundary_source(info),
    )
