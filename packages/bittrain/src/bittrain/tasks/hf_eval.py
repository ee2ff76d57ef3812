"""Hugging Face masked LMs as EvalModels: an ``hf-bert`` run's model directory (written by
``save_hf_bert``: exact reference-BPE encoding, documents kept apart) or any local
``AutoModelForMaskedLM`` directory with its own fast tokenizer (``kind`` "hf").
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bitbaselines.bpe import (
    MASK_TOKEN,
    MASK_TOKEN_ID,
    PAD_TOKEN,
    PAD_TOKEN_ID,
    load_tokenizer,
    save_tokenizer,
    token_bytes_table,
)
from bitbaselines.hf_bert import (
    BITBENCH_CONFIG,
    HF_KIND,
    HfBertConfig,
    bert_config,
    bitbench_bert,
    hf_flops_per_byte,
    make_hf_bert_config,
    transformers_module,
)
from bitbaselines.weights import WEIGHTS_NAME, load_weights
from safetensors.torch import save_file

from bittrain.engine.contracts import Module, Windows
from bittrain.engine.modules import unwrap
from bittrain.errors import BittrainError
from bittrain.fileio import write_atomic, write_json_atomic
from bittrain.hidden.token_layout import reference_encoder
from bittrain.tasks.span_encoders import TokenSpanEncoder
from bittrain.tasks.token_eval import TokenScoring, mean_pool, token_inputs


def save_weights(model: Module, path: Path) -> None:
    state = {k: v.detach().to("cpu").contiguous() for k, v in unwrap(model).state_dict().items()}
    write_atomic(path, lambda tmp: save_file(state, tmp))


def save_hf_bert(model: Module, config: HfBertConfig, tokenizer: Any, directory: Path) -> None:
    """A Hugging Face directory (see the module doc), every file written atomically."""

    directory = Path(directory)
    plain = unwrap(model)
    save_tokenizer(tokenizer, directory / "tokenizer.json")
    write_json_atomic(
        directory / "tokenizer_config.json",
        {"tokenizer_class": "PreTrainedTokenizerFast", "mask_token": MASK_TOKEN,
         "pad_token": PAD_TOKEN, "model_max_length": config.max_positions},
        sort_keys=True,
    )  # fmt: skip
    save_weights(plain, directory / WEIGHTS_NAME)
    write_json_atomic(directory / BITBENCH_CONFIG, dataclasses.asdict(config), sort_keys=True)
    hf = plain.config.to_dict()
    hf["architectures"] = ["BertForMaskedLM"]
    write_json_atomic(directory / "config.json", hf, sort_keys=True)


class HfEvalModel(TokenScoring):
    """EvalModel of a Hugging Face masked LM (``kind`` "hf-bert" for bitbench's own runs,
    "hf" for any other local AutoModelForMaskedLM directory)."""

    def __init__(
        self,
        model: Module,
        encoder: Any,
        *,
        mask_id: int,
        pad_id: int,
        kind: str,
        own_forward: bool,
        bytes_per_token: float | None = None,
        bos: int | None = None,
        eos: int | None = None,
        device: torch.device | str = "cpu",
        tokenizer: Any = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.kind = kind
        self._encoder = encoder
        self._mask_id, self._pad_id, self._bos, self._eos = mask_id, pad_id, bos, eos
        self._own_forward = own_forward  # bitbench's BERT: documents stay apart
        self._max_tokens = int(self.model.config.max_position_embeddings)
        self.bytes_per_token = bytes_per_token
        self.tokenizer = tokenizer
        self._seen = (0, 0)  # (bytes, tokens) tokenised so far

    @classmethod
    def bitbench(
        cls,
        model: Module,
        tokenizer: Any,
        bytes_per_token: float,
        device: torch.device | str | None = None,
    ) -> HfEvalModel:
        """Around an in-memory hf-bert model (``bitbench_bert``, e.g. the trainer's live one)
        and its reference BPE; ``device`` defaults to the model's own."""

        if device is None:
            device = next(model.parameters()).device
        return cls(
            model, reference_encoder(tokenizer), mask_id=MASK_TOKEN_ID, pad_id=PAD_TOKEN_ID,
            kind=HF_KIND, own_forward=True, bytes_per_token=bytes_per_token, device=device,
            tokenizer=tokenizer,
        )  # fmt: skip

    def _piece_encoder(self) -> Any:
        return self._encoder

    def _masked_logits(self, ids: torch.Tensor, docs: torch.Tensor, select: torch.Tensor):
        if self._own_forward:
            return self.model(ids, docs, select)[1]
        out = self.model(input_ids=ids, attention_mask=(ids != self._pad_id).long())
        return out.logits[select]  # [M, V]

    def _rows(self, windows, doc_starts, pad, cuts):
        rows = super()._rows(windows, doc_starts, pad, cuts)
        if self.bytes_per_token is None:  # a foreign tokenizer: measure it on what is scored
            seen_bytes, seen_tokens = self._seen
            self._seen = (seen_bytes + sum(int(r.lengths.sum()) for r in rows),
                          seen_tokens + sum(len(r) for r in rows))  # fmt: skip
        return rows

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def flops_per_byte(self, seq_len_bytes: int) -> float:
        per_token = self.bytes_per_token
        if per_token is None:
            seen_bytes, seen_tokens = self._seen
            per_token = seen_bytes / seen_tokens if seen_tokens else 4.0
        return hf_flops_per_byte(self.model.config, float(per_token), seq_len_bytes)

    @torch.no_grad()
    def features(self, texts: list[bytes]) -> np.ndarray:
        """Mean of the last hidden states over each text's tokens -> float32 [N, D]."""
        dim = int(self.model.config.hidden_size)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        width = max([len(t) for t in texts] + [1])
        windows = np.zeros((len(texts), width), dtype=np.uint8)
        pad = np.ones((len(texts), width), dtype=bool)
        for i, t in enumerate(texts):
            windows[i, : len(t)] = np.frombuffer(t, dtype=np.uint8)
            pad[i, : len(t)] = False
        rows = self._rows(windows, None, pad, None)
        for start in range(0, len(rows), self._batch):
            part = rows[start : start + self._batch]
            ids = np.full((len(part), max([len(r) for r in part] + [1])), self._pad_id, np.int64)
            for r, row in enumerate(part):
                ids[r, : len(row)] = row.ids[: ids.shape[1]]
            ids_t = torch.from_numpy(ids[:, : self._max_tokens]).to(self.device)
            real = ids_t != self._pad_id
            base = self.model.base_model
            hidden = base(input_ids=ids_t, attention_mask=real.long()).last_hidden_state
            out[start : start + len(part)] = mean_pool(hidden, real)
        return out

    @torch.no_grad()
    def byte_states(self, windows: Windows, *, pad=None, doc_starts=None) -> np.ndarray:
        """float32 [N, L, D]: each byte gets the last hidden state of the token covering it
        (bytes no token covers, and padding, get zeros)."""
        windows = np.asarray(windows, dtype=np.uint8)
        rows = self._rows(windows, doc_starts, pad, None)
        out = np.zeros((*windows.shape, int(self.model.config.hidden_size)), dtype=np.float32)
        for start in range(0, len(rows), self._batch):
            part = rows[start : start + self._batch]
            ids, docs, _, _ = token_inputs(
                part, np.zeros((len(part), windows.shape[1]), dtype=bool),
                max_tokens=self._max_tokens, mask_id=self._mask_id, pad_id=self._pad_id,
                bos=self._bos, eos=self._eos,
            )  # fmt: skip
            ids_t = torch.from_numpy(ids).to(self.device)
            if self._own_forward:
                none = torch.zeros_like(ids_t, dtype=torch.bool)  # no head outputs needed
                hidden = self.model(ids_t, torch.from_numpy(docs).to(self.device), none)[0]
            else:
                base = self.model.base_model
                mask = (ids_t != self._pad_id).long()
                hidden = base(input_ids=ids_t, attention_mask=mask).last_hidden_state
            states = hidden.float().cpu().numpy()  # [b, T, D]
            lead = int(self._bos is not None)
            for r, row in enumerate(part):
                for t, (a, n) in enumerate(zip(row.starts, row.lengths, strict=True)):
                    out[start + r, a : a + n] = states[r, lead + t]
        return out

    def span_encoder(self) -> TokenSpanEncoder:
        """Per-token states with gradients and the MLM head, for question answering (exact
        token bytes, for the cloze, only with bitbench's own reference BPE)."""
        return TokenSpanEncoder(
            self.model, self._encoder, pad_id=self._pad_id, mask_id=self._mask_id,
            max_tokens=self._max_tokens, own_forward=self._own_forward, bos=self._bos,
            eos=self._eos, hidden_size=int(self.model.config.hidden_size),
            vocab_bytes=token_bytes_table(self.tokenizer) if self._own_forward else None,
        )  # fmt: skip

    def untrained(self, seed: int = 0) -> HfEvalModel:
        """The same architecture with fresh weights (the consistency control)."""
        torch.manual_seed(seed)
        fresh = type(self.model)(self.model.config)
        return HfEvalModel(
            fresh, self._encoder, mask_id=self._mask_id, pad_id=self._pad_id, kind=self.kind,
            own_forward=self._own_forward, bytes_per_token=self.bytes_per_token, bos=self._bos,
            eos=self._eos, device=self.device, tokenizer=self.tokenizer,
        )  # fmt: skip


def hf_tokenizer_encoder(tokenizer: Any) -> Any:
    """Piece encoder of a Hugging Face (fast) tokenizer: ids and byte spans from its offset
    mapping (pieces decoded as UTF-8; tokens it drops, such as whitespace, cover no bytes)."""

    def encode(pieces):
        texts = [p.decode("utf-8", errors="replace") for p in pieces]
        enc = (
            tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
            if texts
            else None
        )
        out = []
        for k, text in enumerate(texts):
            byte_at = np.concatenate([[0], np.cumsum([len(c.encode("utf-8")) for c in text])])
            limit = len(pieces[k])
            ids, starts, lengths = [], [], []
            for tid, (a, b) in zip(enc["input_ids"][k], enc["offset_mapping"][k], strict=True):
                lo = min(int(byte_at[a]), limit)
                hi = min(
                    int(byte_at[max(b, a + 1)] if max(b, a + 1) < byte_at.size else limit), limit
                )
                if hi <= lo:
                    continue
                ids.append(tid)
                starts.append(lo)
                lengths.append(hi - lo)
            out.append(
                (
                    np.asarray(ids, np.int64),
                    np.asarray(starts, np.int64),
                    np.asarray(lengths, np.int64),
                )
            )
        return out

    return encode


def load_hf_model(model_dir: Path | str, device: torch.device | str = "cpu") -> HfEvalModel:
    """An hf-bert run's model/ (bitbench.json present: exact reference-BPE encoding, documents
    apart) or any local AutoModelForMaskedLM directory with its own tokenizer (no network)."""

    tf = transformers_module()
    tf.utils.logging.disable_progress_bar()  # no "Loading weights" bar on stderr
    model_dir = Path(model_dir)
    own = model_dir / BITBENCH_CONFIG
    if own.is_file():
        config = make_hf_bert_config(json.loads(own.read_text(encoding="utf-8")))
        tokenizer = load_tokenizer(model_dir / "tokenizer.json")
        model = bitbench_bert(bert_config(config))
        load_weights(model, model_dir)
        return HfEvalModel.bitbench(model, tokenizer, config.bytes_per_token, device)
    try:
        model = tf.AutoModelForMaskedLM.from_pretrained(model_dir, local_files_only=True)
        tokenizer = tf.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise BittrainError(
            f"'{model_dir}' is not a local Hugging Face masked-LM directory with its tokenizer "
            f"({str(exc).splitlines()[0][:200]}): save both with save_pretrained"
        ) from exc
    if tokenizer.mask_token_id is None or not getattr(tokenizer, "is_fast", False):
        raise BittrainError(
            f"the tokenizer in '{model_dir}' has no mask token or is not a fast tokenizer "
            "(offsets are needed): save a fast tokenizer with a mask token"
        )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return HfEvalModel(
        model, hf_tokenizer_encoder(tokenizer), mask_id=int(tokenizer.mask_token_id),
        pad_id=int(pad), kind="hf", own_forward=False, bos=tokenizer.cls_token_id,
        eos=tokenizer.sep_token_id, device=device, tokenizer=tokenizer,
    )  # fmt: skip
