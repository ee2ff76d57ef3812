"""BitSwinModel: bit embedding -> bit-level Swin stage -> 8:1 merge -> byte-level Swin stages
-> heads (bit, byte, replaced, structural, boundary); losses when targets are given."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from bittokens import BIT_VOCAB_SIZE, PAD_ID
from torch import nn

from bitswin.blocks import SwinStage
from bitswin.checkpoint import BitSwinHubMixin
from bitswin.config import BitSwinConfig
from bitswin.embedding import BitEmbedding, ByteMerge, CodeEmbedding, StageTransition
from bitswin.errors import BitswinError
from bitswin.heads import BitHead, ByteHeads
from bitswin.losses import check_targets, compute_losses
from bitswin.window import offsets_from_windows

logger = logging.getLogger(__name__)


@dataclass
class BitSwinOutput:
    """Everything one forward pass produces. Shapes: B batch, L bytes, 8L bits, D widths."""

    bit_logits: torch.Tensor  # [B, 8L] logit of bit = 1
    byte_logits: torch.Tensor  # [B, L, 256]
    boundary: torch.Tensor  # [B, L] unit-start score (predicted surprisal in bits)
    replaced_logits: torch.Tensor  # [B, L] logit of "this shown byte was replaced"
    structural_logits: dict[str, torch.Tensor]  # utf8_role [B, L, 6], char_class [B, L, 6]
    byte_hidden: torch.Tensor  # [B, L, D_last] final (normed) byte representation
    stages: tuple[torch.Tensor, ...]  # stage 1 [B, 8L, D1]; stage k>1 [B, L, Dk]
    # Per stage: [B, depth, N, 2W - 1] head-averaged weights in relative-offset layout
    # (N = 8L for stage 1, L after); entry [b, d, n, o] = weight of query n on key
    # n + o - (W - 1) in block d; None unless return_attention=True.
    attentions: tuple[torch.Tensor, ...] | None = None
    loss: torch.Tensor | None = None  # weighted total (has grad) when targets are given
    losses: dict[str, torch.Tensor] = field(default_factory=dict)  # detached, per task
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)  # detached accuracies, counts


class BitSwinModel(nn.Module, BitSwinHubMixin):
    """save_pretrained / from_pretrained (local folder or Hub id) / push_to_hub come from
    BitSwinHubMixin (bitswin.checkpoint, on huggingface_hub's PyTorchModelHubMixin)."""

    def __init__(self, config: BitSwinConfig) -> None:
        super().__init__()
        if not isinstance(config, BitSwinConfig):
            raise BitswinError(f"BitSwinModel needs a BitSwinConfig, got {type(config).__name__}")
        self.config = config
        c = config
        eps = c.layer_norm_eps
        self.embed = BitEmbedding(c.widths[0], c.embed_init_std, c.absolute_positions)
        self.embed_drop = nn.Dropout(c.dropout)
        self.stages = nn.ModuleList(
            SwinStage(
                c.widths[i],
                c.depths[i],
                c.heads[i],
                c.window_tokens(i),
                c.mlp_ratio,
                c.dropout,
                c.attn_dropout,
                eps,
            )
            for i in range(c.num_stages)
        )
        byte_dim = c.widths[1] if c.num_stages > 1 else c.widths[0]
        self.merge = ByteMerge(c.widths[0], byte_dim, eps, hidden=round(c.mlp_ratio * byte_dim))
        self.transitions = nn.ModuleList(
            StageTransition(c.widths[i - 1], c.widths[i], eps)
            if c.widths[i - 1] != c.widths[i]
            else nn.Identity()
            for i in range(2, c.num_stages)
        )
        self.codes = (
            CodeEmbedding(c.code_vocab_size, byte_dim, c.embed_init_std)
            if c.code_vocab_size
            else None
        )
        self.final_norm = nn.LayerNorm(c.hidden_size, eps=eps)
        self.bit_head = BitHead(c.hidden_size, c.widths[0], eps)
        self.heads = ByteHeads(c.hidden_size)
        self.apply(_init_linear)
        self.merge.reset_parameters()  # after the generic Linear init

    # ------------------------------------------------------------------------------------
    def _check_inputs(
        self,
        input_ids: torch.Tensor,
        segment_ids: torch.Tensor | None,
        code_ids: torch.Tensor | None,
    ) -> None:
        if input_ids.dim() != 2 or input_ids.shape[1] % 8 != 0 or input_ids.shape[1] == 0:
            raise BitswinError(
                f"input_ids has shape {tuple(input_ids.shape)}: expected [B, 8L] bit ids "
                "(a whole number of bytes per row)"
            )
        n_bytes = input_ids.shape[1] // 8
        if self.config.absolute_positions and n_bytes > self.config.absolute_positions:
            raise BitswinError(
                f"input has {n_bytes} bytes but absolute_positions is "
                f"{self.config.absolute_positions}: use shorter windows or a larger table"
            )
        for name, ids in (("segment_ids", segment_ids), ("code_ids", code_ids)):
            if ids is not None and tuple(ids.shape) != (input_ids.shape[0], n_bytes):
                raise BitswinError(
                    f"{name} has shape {tuple(ids.shape)}: expected [B, L] = "
                    f"[{input_ids.shape[0]}, {n_bytes}] (one id per byte)"
                )
        if code_ids is not None and self.codes is None:
            raise BitswinError("code_ids given but code_vocab_size is 0: set it in the config")
        # Value checks need the data on the host: only on CPU and outside torch.compile.
        if input_ids.device.type == "cpu" and not torch.compiler.is_compiling():
            if int(input_ids.min()) < 0 or int(input_ids.max()) >= BIT_VOCAB_SIZE:
                raise BitswinError(
                    f"input_ids holds values outside 0..{BIT_VOCAB_SIZE - 1} "
                    "(BIT0, BIT1, MASK_ID, PAD_ID): build them with bitmask"
                )
            if code_ids is not None and int(code_ids.max()) >= self.config.code_vocab_size:
                raise BitswinError(
                    f"code_ids holds {int(code_ids.max())} >= code_vocab_size "
                    f"{self.config.code_vocab_size}: raise code_vocab_size or remap the codes"
                )

    def forward(
        self,
        input_ids: torch.Tensor,
        *,
        segment_ids: torch.Tensor | None = None,
        targets: Any = None,
        code_ids: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> BitSwinOutput:
        """input_ids: long [B, 8L]; segment_ids, code_ids: long [B, L]; targets: a MaskedBatch."""
        self._check_inputs(input_ids, segment_ids, code_ids)
        input_ids = input_ids.long()
        b, n_bits = input_ids.shape
        n_bytes = n_bits // 8
        pad = (input_ids.reshape(b, n_bytes, 8) == PAD_ID).all(dim=-1)  # [B, L]
        valid_bytes = ~pad
        valid_bits = valid_bytes.repeat_interleave(8, dim=1)  # [B, 8L]
        seg_bits = None if segment_ids is None else segment_ids.repeat_interleave(8, dim=1)

        stage_outputs: list[torch.Tensor] = []
        attentions: list[torch.Tensor] = []

        # Stage 1 on bits.
        x = self.embed_drop(self.embed(input_ids))  # [B, 8L, D1]
        x, maps = self.stages[0](x, valid_bits, seg_bits, return_attention)
        stage_outputs.append(x)
        if return_attention:
            attentions.append(self._stack_maps(maps, n_bits))
        bit_skip = x

        # Merge 8 bits -> 1 byte token, then the byte-level stages.
        x = self.merge(x)  # [B, L, D2]
        if code_ids is not None and self.codes is not None:
            x = x + self.codes(code_ids.long())
        for i in range(1, self.config.num_stages):
            if i >= 2:
                x = self.transitions[i - 2](x)  # [B, L, Di]
            x, maps = self.stages[i](x, valid_bytes, segment_ids, return_attention)
            stage_outputs.append(x)
            if return_attention:
                attentions.append(self._stack_maps(maps, n_bytes))

        byte_hidden = self.final_norm(x)  # [B, L, D]
        logits = self.heads(byte_hidden)
        logits["bit_logits"] = self.bit_head(byte_hidden, bit_skip)  # [B, 8L]
        out = BitSwinOutput(
            bit_logits=logits["bit_logits"],
            byte_logits=logits["byte_logits"],
            boundary=logits["boundary"],
            replaced_logits=logits["replaced_logits"],
            structural_logits={
                "utf8_role": logits["utf8_role"],
                "char_class": logits["char_class"],
            },
            byte_hidden=byte_hidden,
            stages=tuple(stage_outputs),
            attentions=tuple(attentions) if return_attention else None,
        )
        if targets is not None:
            check_targets(targets, b, n_bytes)
            out.loss, out.losses, out.metrics = compute_losses(
                logits, targets, self.config.loss_weights
            )
        return out

    @staticmethod
    def _stack_maps(maps: list[tuple[torch.Tensor, int]], n: int) -> torch.Tensor:
        """Per block (weights [B, nW, W, W], shift) -> [B, depth, N, 2W - 1]."""
        return torch.stack([offsets_from_windows(w, n, s) for w, s in maps], dim=1)

    # ------------------------------------------------------------------------------------
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _init_linear(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
