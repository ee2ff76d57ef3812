"""Span encoders: every model kind seen as "units in, one hidden state per unit out, with
gradients", for span heads over a two-piece input (bitbench.qa: a question, the separator, a
piece of a context; probe and fine-tuning) and for the token cloze.

An EvalModel that can read such inputs says so by the ``HasSpanEncoder`` protocol: a
``span_encoder()`` method that returns one of the adapters below around its own module:

- ``BitSwinSpanEncoder``: units are bytes; the input goes through bittrain.engine's one input
  path (bit ids, table codes from the shown bytes); the state is ``byte_hidden``.
- ``ByteMLMSpanEncoder``: units are bytes (the byte baseline's own ids, PAD for padding).
- ``TokenSpanEncoder``: units are the model's tokens (BPE baseline, hf-bert, any local Hugging
  Face masked LM): each piece (question, separator, context) is tokenised on its own by the
  model's piece encoder, which gives every token's byte span; a Hugging Face model with
  [CLS] / [SEP] gets "[CLS] question [SEP] context [SEP]".

``layout`` turns ``PairInput`` s (the lead piece, the context piece and where that piece starts
in its context) into unit ids and, for every unit of the context piece, the context bytes
[start, end) it covers (-1 for lead, separator and special units); a span of units therefore
maps back to exact context bytes, and from there to characters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from bittrain.engine.codes import TableCodes
from bittrain.engine.inputs import forward, model_inputs, shown_ids
from bittrain.engine.precision import autocast
from bittrain.errors import BittrainError

SEPARATOR = b"\n"  # the byte between the lead piece and the context piece

# pieces -> per piece (ids int64 [T], starts int64 [T] within the piece, lengths int64 [T])
PieceEncoder = Callable[[Sequence[bytes]], list[tuple[np.ndarray, np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class PairInput:
    """One input: ``lead`` bytes (a question), the separator, then ``piece``: the bytes of a
    context from byte ``offset`` on."""

    lead: bytes
    piece: bytes
    offset: int

    @property
    def num_bytes(self) -> int:
        return len(self.lead) + len(SEPARATOR) + len(self.piece)


@dataclass(frozen=True)
class Layout:
    """The units of one window."""

    ids: np.ndarray  # int64 [T]
    start: np.ndarray  # int64 [T]: first context byte of each context unit, -1 elsewhere
    end: np.ndarray  # int64 [T]: one past its last context byte, -1 elsewhere

    def __len__(self) -> int:
        return int(self.ids.size)


@runtime_checkable
class SpanEncoder(Protocol):
    unit: str  # "byte" | "token"
    module: torch.nn.Module  # what fine-tuning trains
    hidden_size: int
    device: torch.device
    pad_id: int

    def layout(self, inputs: Sequence[PairInput]) -> list[Layout]:
        """The units of each input."""
        ...

    def hidden(self, ids: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """float32 [B, T, D] final states of unit ids long [B, T] (pad bool [B, T]); with
        gradients when grad is enabled."""
        ...


@runtime_checkable
class HasSpanEncoder(Protocol):
    """EvalModels whose per-unit states a span head can read (bitbench.qa)."""

    def span_encoder(self) -> SpanEncoder: ...


@runtime_checkable
class HasByteCloze(Protocol):
    """Span encoders of byte models that can fill masked bytes (the cloze mode)."""

    def mask_log_probs(
        self, ids: torch.Tensor, pad: torch.Tensor, hidden: torch.Tensor
    ) -> torch.Tensor:
        """float32 [B, T, 256]: log p(byte) at every position of byte ids long [B, T] with the
        ``hidden`` bytes (bool [B, T]) masked; nothing depends on a hidden byte's value."""
        ...


@runtime_checkable
class HasTokenCloze(Protocol):
    """Span encoders of token models that can fill [MASK] tokens (the cloze mode)."""

    mask_id: int

    def mask_logits(
        self, ids: torch.Tensor, pad: torch.Tensor, select: torch.Tensor
    ) -> torch.Tensor:
        """float [M, V]: the masked-LM head at the ``select``-ed units (bool [B, T])."""
        ...

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes a token id stands for (b"" for special tokens)."""
        ...

    def cloze_ids(self, pieces: Sequence[bytes], hide: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64 [T], hidden bool [T]) of the pieces (question, then context pieces),
        each tokenised on its own, the separator after the question; the tokens of piece
        ``hide`` are the hidden ones."""
        ...


def _byte_layouts(inputs: Sequence[PairInput]) -> list[Layout]:
    out = []
    for x in inputs:
        data = x.lead + SEPARATOR + x.piece
        lead = len(x.lead) + len(SEPARATOR)
        start = np.full(len(data), -1, dtype=np.int64)
        start[lead:] = np.arange(x.offset, x.offset + len(x.piece), dtype=np.int64)
        end = np.where(start >= 0, start + 1, -1)
        out.append(Layout(np.frombuffer(data, dtype=np.uint8).astype(np.int64), start, end))
    return out


class BitSwinSpanEncoder:
    """bitswin: byte units, states from ``byte_hidden`` (see the module doc)."""

    unit = "byte"
    pad_id = 0  # a byte value under the pad mask (shown as PAD bits)

    def __init__(self, model: torch.nn.Module, *, codes: TableCodes | None, precision: str) -> None:
        self.module = model
        self.codes = codes
        self.precision = precision
        self.hidden_size = int(model.config.hidden_size)
        self.device = next(model.parameters()).device

    def layout(self, inputs: Sequence[PairInput]) -> list[Layout]:
        return _byte_layouts(inputs)

    def hidden(self, ids: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        shown = shown_ids(ids.to(self.device), pad=pad.to(self.device))  # [B, 8T]
        inputs = model_inputs(shown, None, self.codes).to(self.device)
        with autocast(self.device, self.precision):
            return forward(self.module, inputs).byte_hidden.float()  # [B, T, D]

    def mask_log_probs(
        self, ids: torch.Tensor, pad: torch.Tensor, hidden: torch.Tensor
    ) -> torch.Tensor:
        shown = shown_ids(
            ids.to(self.device), hidden_bytes=hidden.to(self.device), pad=pad.to(self.device)
        )  # [B, 8T]; codes come from the shown bytes only
        inputs = model_inputs(shown, None, self.codes).to(self.device)
        with autocast(self.device, self.precision):
            logits = forward(self.module, inputs).byte_logits  # [B, T, 256]
        return torch.log_softmax(logits.float(), dim=-1)


class ByteMLMSpanEncoder:
    """The byte baseline: byte units, its final hidden states."""

    unit = "byte"

    def __init__(self, model: torch.nn.Module, *, pad_id: int, mask_id: int) -> None:
        self.module = model
        self.pad_id, self.mask_id = pad_id, mask_id
        self.hidden_size = int(model.config.d_model)
        self.device = next(model.parameters()).device

    def layout(self, inputs: Sequence[PairInput]) -> list[Layout]:
        return _byte_layouts(inputs)

    def hidden(self, ids: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        ids = ids.to(self.device).masked_fill(pad.to(self.device), self.pad_id)
        none = torch.zeros_like(ids, dtype=torch.bool)  # no head outputs needed
        return self.module(ids, None, none)[0].float()  # [B, T, D]

    def mask_log_probs(
        self, ids: torch.Tensor, pad: torch.Tensor, hidden: torch.Tensor
    ) -> torch.Tensor:
        ids = ids.to(self.device).masked_fill(hidden.to(self.device), self.mask_id)
        ids = ids.masked_fill(pad.to(self.device), self.pad_id)
        return torch.log_softmax(self.module(ids, None, None)[1].float(), dim=-1)  # [B, T, 256]


class TokenSpanEncoder:
    """Token models (see the module doc). ``own_forward``: bitbench's signature
    ``module(ids, segment_ids, select) -> (hidden, logits)`` (BPE baseline, hf-bert); else a
    Hugging Face ``AutoModelForMaskedLM`` called with an attention mask."""

    unit = "token"

    def __init__(
        self,
        model: torch.nn.Module,
        encode: PieceEncoder,
        *,
        pad_id: int,
        mask_id: int,
        max_tokens: int,
        own_forward: bool,
        hidden_size: int,
        bos: int | None = None,
        eos: int | None = None,
        vocab_bytes: Sequence[bytes] | None = None,
    ) -> None:
        self.module = model
        self.encode = encode
        self.pad_id, self.mask_id, self.max_tokens = pad_id, mask_id, max_tokens
        self.own_forward = own_forward
        self.bos, self.eos = bos, eos
        self.vocab_bytes = vocab_bytes
        self.hidden_size = hidden_size
        self.device = next(model.parameters()).device

    def layout(self, inputs: Sequence[PairInput]) -> list[Layout]:
        # With a [SEP] token the separator is that token, else the separator byte's own piece.
        sep_piece = [] if self.eos is not None else [SEPARATOR]
        pieces = []
        for x in inputs:
            pieces += [x.lead, *sep_piece, x.piece]
        encoded = iter(self.encode(pieces))
        head = _ids([] if self.bos is None else [self.bos])
        tail = _ids([] if self.eos is None else [self.eos])
        out = []
        for x in inputs:
            question = next(encoded)[0]
            sep = next(encoded)[0] if sep_piece else tail
            ctx_ids, ctx_starts, ctx_lengths = next(encoded)
            lead = np.concatenate([head, question, sep])
            ids = np.concatenate([lead, ctx_ids, tail])
            if ids.size > self.max_tokens:
                raise BittrainError(
                    f"a window of {x.num_bytes} bytes is "
                    f"{ids.size} tokens, more than the model's {self.max_tokens} positions: "
                    "use a smaller --window"
                )
            start = np.full(ids.size, -1, dtype=np.int64)
            end = np.full(ids.size, -1, dtype=np.int64)
            at = slice(lead.size, lead.size + ctx_ids.size)
            start[at] = ctx_starts + x.offset
            end[at] = ctx_starts + ctx_lengths + x.offset
            out.append(Layout(ids, start, end))
        return out

    def _call(self, ids: torch.Tensor, pad: torch.Tensor, select: torch.Tensor) -> Any:
        ids = ids.to(self.device).masked_fill(pad.to(self.device), self.pad_id)
        if self.own_forward:
            return self.module(ids, None, select.to(self.device))
        return self.module(input_ids=ids, attention_mask=(~pad).long().to(self.device))

    def hidden(self, ids: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        if self.own_forward:
            return self._call(ids, pad, torch.zeros_like(pad))[0].float()
        base = self.module.base_model  # a Hugging Face PreTrainedModel
        ids = ids.to(self.device).masked_fill(pad.to(self.device), self.pad_id)
        mask = (~pad).long().to(self.device)
        return base(input_ids=ids, attention_mask=mask).last_hidden_state.float()

    def mask_logits(
        self, ids: torch.Tensor, pad: torch.Tensor, select: torch.Tensor
    ) -> torch.Tensor:
        out = self._call(ids, pad, select)
        if self.own_forward:
            return out[1].float()  # [M, V]
        return out.logits[select.to(self.device)].float()

    def token_bytes(self, token_id: int) -> bytes:
        if self.vocab_bytes is None:
            raise BittrainError(
                "this model's tokenizer does not give each token's exact bytes: the cloze mode "
                "needs bitbench's own token models (bpe, hf-bert) or a byte model"
            )
        return self.vocab_bytes[token_id]

    def cloze_ids(self, pieces: Sequence[bytes], hide: int) -> tuple[np.ndarray, np.ndarray]:
        sep_piece = [] if self.eos is not None else [SEPARATOR]
        encoded = [ids for ids, _, _ in self.encode([pieces[0], *sep_piece, *pieces[1:]])]
        if self.eos is not None:
            encoded.insert(1, _ids([self.eos]))
        hide += 1  # the separator's ids follow the question's
        head = [_ids([self.bos])] if self.bos is not None else []
        tail = [_ids([self.eos])] if self.eos is not None else []
        parts = [*head, *encoded, *tail]
        flags = [np.full(p.size, i == hide + len(head), dtype=bool) for i, p in enumerate(parts)]
        ids = np.concatenate(parts)
        if ids.size > self.max_tokens:
            raise BittrainError(
                f"a cloze input is {ids.size} tokens, more than the model's {self.max_tokens} "
                "positions: use a smaller --window"
            )
        return ids, np.concatenate(flags)


def _ids(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def pad_layouts(layouts: Sequence[Layout], pad_id: int) -> dict[str, torch.Tensor]:
    """Batch tensors: ``ids`` long [B, T] (``pad_id`` on padding), ``pad`` bool [B, T],
    ``start`` / ``end`` long [B, T] (context bytes of each unit, -1 elsewhere)."""
    width = max([len(x) for x in layouts] + [1])
    b = len(layouts)
    ids = np.full((b, width), pad_id, dtype=np.int64)
    pad = np.ones((b, width), dtype=bool)
    start = np.full((b, width), -1, dtype=np.int64)
    end = np.full((b, width), -1, dtype=np.int64)
    for r, x in enumerate(layouts):
        n = len(x)
        ids[r, :n], pad[r, :n], start[r, :n], end[r, :n] = x.ids, False, x.start, x.end
    return {
        "ids": torch.from_numpy(ids),
        "pad": torch.from_numpy(pad),
        "start": torch.from_numpy(start),
        "end": torch.from_numpy(end),
    }
