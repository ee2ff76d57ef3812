"""The ``hf-bert`` baseline's model: Hugging Face ``transformers``' BertForMaskedLM at the size of
the ``bpe`` kind (same presets), on the corpus's reference BPE (``pip install
'bitbaselines[hf]'``).

A trained hf-bert run's model/ is a plain Hugging Face directory (config.json with
``model_type: bert``, model.safetensors, tokenizer.json + tokenizer_config.json that
``AutoTokenizer`` reads) plus bitbench.json (the preset sizes, bytes per token);
``BertForMaskedLM.from_pretrained`` and ``AutoTokenizer.from_pretrained`` load it as they are.
Writing and reading that directory as an evaluated model is bittrain's (``bittrain.tasks.hf_eval``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from bitbaselines.bpe import PAD_TOKEN_ID
from bitbaselines.config import BPE_PRESETS, BpeMLMConfig, config_from_dict
from bitbaselines.errors import BitbaselinesError

BITBENCH_CONFIG = "bitbench.json"
HF_KIND = "hf-bert"


def transformers_module() -> Any:
    """``transformers``, or one clear error naming the extra to install."""
    try:
        import transformers
    except ImportError as exc:
        raise BitbaselinesError(
            "the hf-bert baseline and Hugging Face models need transformers: "
            "pip install 'bitbaselines[hf]'"
        ) from exc
    return transformers


@dataclass(frozen=True)
class HfBertConfig(BpeMLMConfig):
    """The ``bpe`` kind's sizes (same presets), realised as a Hugging Face BERT."""

    model_type: str = "hf_bert_mlm"


def bert_config(config: HfBertConfig) -> Any:
    """The transformers.BertConfig of ``config`` (untied head, like the bpe kind's)."""
    tf = transformers_module()
    return tf.BertConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.d_model,
        num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads,
        intermediate_size=config.ffn_mult * config.d_model,
        max_position_embeddings=config.max_positions,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        initializer_range=config.embed_init_std,
        type_vocab_size=1,
        pad_token_id=PAD_TOKEN_ID,
        tie_word_embeddings=False,
        architectures=["BertForMaskedLM"],
    )


def document_mask(docs: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
    """bool [B, 1, T, T]: a token attends to real tokens of its own document (and itself)."""
    same = docs.unsqueeze(2) == docs.unsqueeze(1)  # [B, T, T]
    eye = torch.eye(docs.shape[1], dtype=torch.bool, device=docs.device)
    return ((same & ~pad.unsqueeze(1)) | eye).unsqueeze(1)


def bitbench_bert(bert_cfg: Any) -> torch.nn.Module:
    """A BertForMaskedLM whose forward has the bpe kind's signature: (input_ids [B, T],
    segment_ids [B, T] | None, select bool [B, T] | None) -> (hidden [B, T, D], logits [M, V]
    at the selected tokens, or [B, T, V]). Its state dict is BertForMaskedLM's."""
    tf = transformers_module()

    class BitbenchBertForMaskedLM(tf.BertForMaskedLM):
        def forward(self, input_ids, segment_ids=None, select=None):  # type: ignore[override]
            pad = input_ids == PAD_TOKEN_ID
            docs = torch.zeros_like(input_ids) if segment_ids is None else segment_ids
            hidden = self.bert(
                input_ids=input_ids, attention_mask=document_mask(docs, pad)
            ).last_hidden_state  # [B, T, D]
            picked = hidden if select is None else hidden[select]
            return hidden, self.cls(picked)

    return BitbenchBertForMaskedLM(bert_cfg)


def hf_flops_per_byte(bert_cfg: Any, bytes_per_token: float, seq_len_bytes: int) -> float:
    """Forward FLOPs per byte of a BERT-like encoder + MLM head: per token, every layer's
    projections, feed-forward and full attention over the window's tokens, the head's transform
    and decoder; divided by bytes per token."""
    d = int(bert_cfg.hidden_size)
    tokens = min(
        max(1, round(seq_len_bytes / bytes_per_token)), int(bert_cfg.max_position_embeddings)
    )
    per_layer = 2 * 4 * d * d + 2 * 2 * d * int(bert_cfg.intermediate_size) + 2 * 2 * tokens * d
    head = 2 * d * d + 2 * d * int(bert_cfg.vocab_size)
    return float((int(bert_cfg.num_hidden_layers) * per_layer + head) / bytes_per_token)


def make_hf_bert_config(raw: dict[str, Any]) -> HfBertConfig:
    return config_from_dict(HfBertConfig, raw, BPE_PRESETS)
