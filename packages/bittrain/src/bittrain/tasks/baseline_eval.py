"""EvalModel adapters of the baselines: ``load_baseline(model_dir)``.

``masked_bits`` hides ``rate`` of the units (bytes, or BPE tokens) with [MASK] (no random or
kept units: evaluation measures pure masked prediction) on a seed-fixed mask and returns the
summed bits and the bytes those units cover. ``features`` mean-pools the final hidden states
over the bytes / tokens of each text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from bitbaselines.bpe import (
    MASK_TOKEN_ID,
    PAD_TOKEN_ID,
    load_tokenizer,
    token_byte_lengths,
    token_bytes_table,
)
from bitbaselines.bpe_mlm import BpeMLM, bpe_mlm_flops_per_byte
from bitbaselines.byte_mlm import ByteMLM, byte_mlm_flops_per_byte
from bitbaselines.config import (
    BYTE_MASK_ID,
    BYTE_PAD_ID,
    BpeMLMConfig,
    ByteMLMConfig,
)
from bitbaselines.tokenizer import encode_windows
from bitbaselines.weights import TOKENIZER_NAME, read_config

from bittrain.engine.bits import target_bits
from bittrain.engine.contracts import Flags, OptFlags, Windows
from bittrain.engine.inputs import byte_windows
from bittrain.errors import BittrainError
from bittrain.hidden.token_layout import reference_encoder
from bittrain.rundir import is_hf_masked_lm
from bittrain.tasks.baseline_masking import MaskDraw
from bittrain.tasks.baseline_scoring import (
    MaskedScore,
    score_bytes,
    score_token_windows,
    segments_from_doc_starts,
    tokenize_batch,
)
from bittrain.tasks.hf_eval import load_hf_model
from bittrain.tasks.span_encoders import ByteMLMSpanEncoder, TokenSpanEncoder
from bittrain.tasks.token_eval import TokenScoring, mean_pool

BATCH = 32


def _by_length(texts: list[bytes]) -> list[int]:
    return sorted(range(len(texts)), key=lambda i: len(texts[i]))


class _BaselineEvalModel:
    """What the byte and BPE EvalModels share: batching of ``masked_bits`` and ``features``
    over one scorer (``_score``) and one feature encoder (``_feature_ids``) per model."""

    kind = ""
    model: torch.nn.Module
    config: ByteMLMConfig | BpeMLMConfig
    device: torch.device

    def _score(self, chunk: np.ndarray, draw: MaskDraw) -> MaskedScore:
        """MaskedScore of uint8 windows [b, L] (``draw.sample_index``: their global ids)."""
        raise NotImplementedError

    def _feature_ids(self, rows: list[bytes]) -> tuple[torch.Tensor, int]:
        """(long ids [b, T] on the device, the pad id) for a batch of texts."""
        raise NotImplementedError

    @torch.no_grad()
    def masked_bits(self, windows: Windows, *, rate: float = 0.15, seed: int = 0):
        arr = byte_windows(windows)
        bits, covered = 0.0, 0
        for start in range(0, len(arr), BATCH):
            chunk = arr[start : start + BATCH]
            index = torch.arange(start, start + len(chunk), device=self.device)
            score = self._score(chunk, MaskDraw(rate, seed, index))
            bits += score.bits
            covered += score.covered_bytes
        return bits, covered

    @torch.no_grad()
    def features(self, texts: list[bytes]) -> np.ndarray:
        out = np.zeros((len(texts), self.config.d_model), dtype=np.float32)
        order = _by_length(texts)
        for start in range(0, len(order), BATCH):
            idx = order[start : start + BATCH]
            ids_t, pad_id = self._feature_ids([bytes(texts[i]) for i in idx])
            hidden, _ = self.model(ids_t, None, torch.zeros_like(ids_t, dtype=torch.bool))
            out[idx] = mean_pool(hidden, ids_t != pad_id)
        return out

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def untrained(self, seed: int = 0):
        """The same EvalModel with fresh weights (the consistency control)."""
        torch.manual_seed(seed)
        fresh = type(self.model)(self.config)
        if isinstance(self, BpeEvalModel):
            return BpeEvalModel(fresh, self.tokenizer, self.device)
        return ByteEvalModel(fresh, self.device)


class ByteEvalModel(_BaselineEvalModel):
    kind = "byte"

    def __init__(self, model: ByteMLM, device: torch.device | str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.config: ByteMLMConfig = model.config
        self.device = torch.device(device)

    def _score(self, chunk: np.ndarray, draw: MaskDraw) -> MaskedScore:
        return score_bytes(self.model, torch.tensor(chunk, device=self.device), None, draw)

    def _feature_ids(self, rows: list[bytes]) -> tuple[torch.Tensor, int]:
        rows = [row[: self.config.max_feature_bytes] for row in rows]
        width = max([len(r) for r in rows] + [1])
        ids = np.full((len(rows), width), BYTE_PAD_ID, dtype=np.int64)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = np.frombuffer(row, dtype=np.uint8)
        return torch.from_numpy(ids).to(self.device), BYTE_PAD_ID

    def flops_per_byte(self, seq_len_bytes: int) -> float:
        return byte_mlm_flops_per_byte(self.config, seq_len_bytes)

    def span_encoder(self) -> ByteMLMSpanEncoder:
        """Per-byte states with gradients, for question answering (bitbench.qa)."""
        return ByteMLMSpanEncoder(self.model, pad_id=BYTE_PAD_ID, mask_id=BYTE_MASK_ID)

    def _inputs(
        self,
        arr: np.ndarray,
        rows: slice,
        pad: np.ndarray | None,
        doc_starts: np.ndarray | None,
        hide: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(byte ids long [b, L] with [MASK] at ``hide`` and [PAD] on padding, segment ids or
        None) of the windows ``arr[rows]``, on the device."""
        ids = torch.tensor(arr[rows], dtype=torch.long, device=self.device)  # [b, L]
        if hide is not None:
            ids = ids.masked_fill(hide, BYTE_MASK_ID)
        if pad is not None:
            pad_t = torch.tensor(np.asarray(pad[rows], dtype=bool), device=self.device)
            ids = ids.masked_fill(pad_t, BYTE_PAD_ID)
        if doc_starts is None:
            return ids, None
        starts = torch.tensor(np.asarray(doc_starts[rows]), device=self.device)
        return ids, segments_from_doc_starts(starts, ids)

    @torch.no_grad()
    def byte_states(
        self, windows: Windows, *, pad: OptFlags = None, doc_starts: OptFlags = None
    ) -> np.ndarray:
        """float32 [N, L, D]: the final hidden state of every byte (padding rows are zeros)."""
        arr = byte_windows(windows)
        out = np.zeros((*arr.shape, self.config.d_model), dtype=np.float32)
        for start in range(0, len(arr), BATCH):
            stop = min(start + BATCH, len(arr))
            ids, seg = self._inputs(arr, slice(start, stop), pad, doc_starts)
            hidden, _ = self.model(ids, seg, torch.zeros_like(ids, dtype=torch.bool))
            hidden = hidden.masked_fill((ids == BYTE_PAD_ID).unsqueeze(-1), 0.0)
            out[start:stop] = hidden.float().cpu().numpy()
        return out

    @torch.no_grad()
    def hidden_byte_bits(
        self, windows: Windows, hidden: Flags, *, doc_starts: OptFlags = None, pad: OptFlags = None
    ) -> np.ndarray:
        """float32 [N, L]: -log2 p(true byte | every byte not hidden) at the ``hidden`` bytes
        (bool [N, L], shown as [MASK]), 0 elsewhere (bittrain.hidden.scores)."""
        arr = byte_windows(windows)
        hide_all = np.asarray(hidden, dtype=bool)
        out = np.zeros(arr.shape, dtype=np.float32)
        for start in range(0, len(arr), BATCH):
            stop = min(start + BATCH, len(arr))
            hide = torch.tensor(hide_all[start:stop], device=self.device)  # [b, L]
            if pad is not None:
                hide &= ~torch.tensor(np.asarray(pad[start:stop], dtype=bool), device=self.device)
            if not bool(hide.any()):
                continue
            true = torch.tensor(arr[start:stop], dtype=torch.long, device=self.device)  # [b, L]
            ids, seg = self._inputs(arr, slice(start, stop), pad, doc_starts, hide)
            _, logits = self.model(ids, seg, hide)  # [M, 256]
            bits = target_bits(logits, true[hide])  # [M]
            block = torch.zeros(hide.shape, dtype=torch.float32, device=self.device)
            block[hide] = bits
            out[start:stop] = block.cpu().numpy()
        return out

    @torch.no_grad()
    def byte_log_probs(self, data: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        """float [L, 256]: log p(byte) at every position with the ``hidden`` bytes (bool [L])
        shown as [MASK] (bitlab fill)."""
        ids = torch.tensor(np.asarray(data, dtype=np.uint8), dtype=torch.long)  # [L]
        hide = torch.tensor(np.asarray(hidden, dtype=bool))
        ids = ids.masked_fill(hide, BYTE_MASK_ID).unsqueeze(0).to(self.device)  # [1, L]
        _, logits = self.model(ids, None, None)  # [1, L, 256]
        return torch.log_softmax(logits[0].float(), dim=-1).cpu().numpy()


class BpeEvalModel(TokenScoring, _BaselineEvalModel):
    kind = "bpe"
    _mask_id = MASK_TOKEN_ID
    _pad_id = PAD_TOKEN_ID

    def __init__(self, model: BpeMLM, tokenizer, device: torch.device | str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.config: BpeMLMConfig = model.config
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.token_bytes = torch.from_numpy(token_byte_lengths(tokenizer)).to(self.device)
        self._max_tokens = self.config.max_positions

    def _piece_encoder(self):
        return reference_encoder(self.tokenizer)

    def _masked_logits(self, ids: torch.Tensor, docs: torch.Tensor, select: torch.Tensor):
        return self.model(ids, docs, select)[1]  # [M, V]

    def _score(self, chunk: np.ndarray, draw: MaskDraw) -> MaskedScore:
        return score_token_windows(
            self.model,
            self.tokenizer,
            chunk,
            None,
            self.token_bytes,
            max_tokens=self.config.max_positions,
            vocab_size=self.config.vocab_size,
            draw=draw,
        )

    def _feature_ids(self, rows: list[bytes]) -> tuple[torch.Tensor, int]:
        ids, _, _ = encode_windows(self.tokenizer, rows, None, max_tokens=self.config.max_positions)
        return torch.from_numpy(ids).to(self.device), PAD_TOKEN_ID

    def flops_per_byte(self, seq_len_bytes: int) -> float:
        return bpe_mlm_flops_per_byte(self.config, seq_len_bytes)

    def span_encoder(self) -> TokenSpanEncoder:
        """Per-token states with gradients and the MLM head, for question answering."""
        return TokenSpanEncoder(
            self.model, reference_encoder(self.tokenizer), pad_id=PAD_TOKEN_ID,
            mask_id=MASK_TOKEN_ID, max_tokens=self.config.max_positions, own_forward=True,
            hidden_size=self.config.d_model, vocab_bytes=token_bytes_table(self.tokenizer),
        )  # fmt: skip

    @torch.no_grad()
    def byte_states(
        self, windows: Windows, *, pad: OptFlags = None, doc_starts: OptFlags = None
    ) -> np.ndarray:
        """float32 [N, L, D]: each byte gets the final state of the token covering it (bytes
        past max_positions tokens and padding bytes get zeros)."""
        arr = byte_windows(windows)
        N, L = arr.shape
        out = np.zeros((N, L, self.config.d_model), dtype=np.float32)
        real = np.ones((N, L), dtype=bool) if pad is None else ~np.asarray(pad, dtype=bool)
        token_bytes = self.token_bytes.cpu().numpy()
        for start in range(0, N, BATCH):
            stop = min(start + BATCH, N)
            rows = [arr[r][real[r]] for r in range(start, stop)]
            starts = None
            if doc_starts is not None:
                starts = [np.asarray(doc_starts[r])[real[r]] for r in range(start, stop)]
            ids, seg = tokenize_batch(
                self.tokenizer,
                rows,
                starts,
                max_tokens=self.config.max_positions,
                device=self.device,
            )
            hidden, _ = self.model(ids, seg, torch.zeros_like(ids, dtype=torch.bool))
            states = hidden.float().cpu().numpy()  # [b, T, D]
            ids_np = ids.cpu().numpy()
            for b, r in enumerate(range(start, stop)):
                n_real = ids_np[b] != PAD_TOKEN_ID
                spans = np.repeat(np.arange(int(n_real.sum())), token_bytes[ids_np[b][n_real]])
                positions = np.flatnonzero(real[r])[: len(spans)]  # [covered bytes]
                out[r, positions] = states[b, spans[: len(positions)]]
        return out


def load_baseline(model_dir: Path | str, device: torch.device | str = "cpu"):
    """The EvalModel of a saved baseline (a run's model/ directory, or a checkpoint)."""

    model_dir = Path(model_dir)
    raw = read_config(model_dir)
    model_type = raw["model_type"]
    if model_type not in ("byte_mlm", "bpe_mlm") and is_hf_masked_lm(raw, model_dir):
        return load_hf_model(model_dir, device)
    if model_type == "byte_mlm":
        return ByteEvalModel(ByteMLM.from_pretrained(model_dir), device)
    if model_type == "bpe_mlm":
        model = BpeMLM.from_pretrained(model_dir)
        tokenizer = load_tokenizer(model_dir / TOKENIZER_NAME)
        if tokenizer.get_vocab_size() != model.config.vocab_size:
            raise BittrainError(
                f"'{model_dir / TOKENIZER_NAME}' has {tokenizer.get_vocab_size()} entries but "
                f"config.json says vocab_size {model.config.vocab_size}: re-save the model"
            )
        return BpeEvalModel(model, tokenizer, device)
    raise BittrainError(
        f"'{model_dir}' holds model_type {model_type!r}, not a baseline: "
        "use bittrain.runs.load_run for bitswin runs"
    )
