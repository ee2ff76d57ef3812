"""BitSwinModel: bits -> bytes -> learned word units -> learned phrase units -> bytes -> heads.

The bit stage (bitswin.bitstage) turns each byte's 8 bit ids into a byte token; the hierarchy
(bitswin.hierarchy) runs the byte encoder, pools bytes into word units at the level-1 router's
starts, runs the word stage, pools word units into phrase units, runs the phrase stage, and
comes back up to bytes; the heads read the byte decoder's output. Losses when targets are given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from bittokens import BIT_VOCAB_SIZE
from torch import nn
from torch.profiler import record_function

from bitswin.bitstage import BitStage
from bitswin.checkpoint import BitSwinHubMixin
from bitswin.config import BitSwinConfig
from bitswin.embedding import BytePositions, CodeEmbedding
from bitswin.errors import BitswinError
from bitswin.heads import BitHead, ByteHeads
from bitswin.hierarchy import Descent, Hierarchy, byte_level_starts
from bitswin.losses import check_targets, compute_losses
from bitswin.ngrams import NgramEmbedding
from bitswin.routing import ByteView, byte_view
from bitswin.window import offsets_from_windows

logger = logging.getLogger(__name__)

LEVEL_NAMES = ("word", "phrase")
STAGE_NAMES = ("bit", "byte", "word", "phrase")
LOSS_RANGE = "bitswin.loss"


@dataclass
class BitSwinOutput:
    """Everything one forward pass produces. Shapes: B batch, L bytes, 8L bits, D widths,
    M1 / M2 word / phrase unit slots."""

    bit_logits: torch.Tensor  # [B, 8L] logit of bit = 1
    byte_logits: torch.Tensor  # [B, L, 256]
    # [B, L] unit-start score of the shown input, higher = a unit starts: the level-1 router's
    # probability (1 where forced, 0 at known UTF-8 continuation bytes and padding).
    boundary: torch.Tensor
    replaced_logits: torch.Tensor  # [B, L] logit of "this shown byte was replaced"
    structural_logits: dict[str, torch.Tensor]  # utf8_role [B, L, 6], char_class [B, L, 6]
    byte_hidden: torch.Tensor  # [B, L, D_byte] final (normed) byte representation
    # Per stage, in the order stages finish (bit, phrase, word, byte: the byte stage is last):
    # bit [B, 8L, D1], byte [B, L, D2], word [B, M1, D3], phrase [B, M2, D4].
    stages: tuple[torch.Tensor, ...]
    stage_names: tuple[str, ...]
    # Per unit level (word, phrase): bool [B, L], the bytes that start a unit of that level.
    unit_starts: tuple[torch.Tensor, ...] = ()
    # Per stage (same order as `stages`): [B, depth, N, 2W - 1] head-averaged weights in
    # relative-offset layout (N = that stage's items; encoder blocks then decoder blocks);
    # entry [b, d, n, o] = weight of query n on key n + o - (W - 1). None unless asked.
    attentions: tuple[torch.Tensor, ...] | None = None
    loss: torch.Tensor | None = None  # weighted total (has grad) when targets are given
    losses: dict[str, torch.Tensor] = field(default_factory=dict)  # detached, per task
    # Detached: accuracies (with targets), and always the realised units (bytes_per_word_unit,
    # words_per_phrase_unit, forced_*_fraction) and what the FLOPs depend on
    # (bit_patterns_per_byte, word_slots, phrase_slots).
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class BitSwinUnits:
    """`BitSwinModel.units`: the model's units of an input, without the rest of the model."""

    boundary: torch.Tensor  # [B, L] level-1 router probability (as BitSwinOutput.boundary)
    unit_starts: tuple[torch.Tensor, ...]  # per level bool [B, L]
    metrics: dict[str, torch.Tensor]  # bytes_per_word_unit, ..., bit_patterns_per_byte


class BitSwinModel(nn.Module, BitSwinHubMixin):
    """save_pretrained / from_pretrained (local folder or Hub id) / push_to_hub come from
    BitSwinHubMixin (bitswin.checkpoint, on huggingface_hub's PyTorchModelHubMixin)."""

    def __init__(self, config: BitSwinConfig) -> None:
        super().__init__()
        if not isinstance(config, BitSwinConfig):
            raise BitswinError(f"BitSwinModel needs a BitSwinConfig, got {type(config).__name__}")
        self.config = config
        c = config
        d_byte, d_bit = c.widths[1], c.widths[0]
        self.bits = BitStage(c)
        # 10x smaller than the byte tokens: at the same size a random vector per position
        # drowns the byte's identity and a masked model sits at unigram loss (measured: 2.9
        # nats after 160 steps on the 2 KB overfit text, against 2.26 without positions).
        self.positions = (
            BytePositions(c.absolute_positions, d_byte, 0.1 * c.embed_init_std)
            if c.absolute_positions
            else None
        )
        # Codes and n-grams start at BLT's hash-embedding scale (std 1/sqrt(D)): a code that
        # first appears when the table grows perturbs its bytes' tokens a little, not at O(1).
        self.codes = (
            CodeEmbedding(c.code_vocab_size, d_byte, c.embed_init_std * d_byte**-0.5)
            if c.code_vocab_size
            else None
        )
        # Hashed n-grams of the shown bytes (bitswin.ngrams), one std-1/sqrt(D) row per table.
        self.ngrams = (
            NgramEmbedding(
                c.ngram_sizes, c.ngram_hashes, c.ngram_buckets, d_byte,
                c.embed_init_std * d_byte**-0.5,
            )
            if c.ngram_sizes
            else None
        )  # fmt: skip
        self.embed_drop = nn.Dropout(c.dropout)
        self.hierarchy = Hierarchy(c)
        self.final_norm = nn.LayerNorm(d_byte, eps=c.layer_norm_eps)
        self.bit_head = BitHead(d_byte, d_bit, c.layer_norm_eps)
        self.heads = ByteHeads(d_byte)
        self.apply(_init_linear)
        self.bits.merge.reset_parameters()  # after the generic Linear init
        for router in self.hierarchy.routers:
            if hasattr(router, "reset_parameters"):
                router.reset_parameters()  # identity projections (H-Net)

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

    def _byte_tokens(
        self,
        input_ids: torch.Tensor,
        code_ids: torch.Tensor | None,
        return_attention: bool,
        view: ByteView,
        segment_ids: torch.Tensor | None,
    ) -> tuple[torch.Tensor, Any]:
        bits = self.bits(input_ids, return_attention)
        x = bits.byte_tokens  # [B, L, D_byte]
        if self.positions is not None:
            x = x + self.positions(x.shape[1])
        if code_ids is not None and self.codes is not None:
            x = x + self.codes(code_ids.long())
        if self.ngrams is not None:
            x = x + self.ngrams(view, segment_ids).to(x.dtype)
        return self.embed_drop(x), bits

    def _unit_metrics(
        self, d: Descent, view: ByteView, patterns: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            n_bytes = view.valid.sum().float()
            dev = view.valid.device
            # in float64 then rounded once: the float32 a Python division would give
            per_byte = patterns.double() / max(1, view.valid.numel())
            out = {"bit_patterns_per_byte": per_byte.float()}
            below = n_bytes
            for level, state in enumerate(d.levels):
                name = LEVEL_NAMES[level]
                count = state.routing.starts.sum().float()
                key = "bytes_per_word_unit" if level == 0 else "words_per_phrase_unit"
                out[key] = below / count.clamp_min(1.0)
                out[f"forced_{name}_fraction"] = (
                    state.routing.forced & state.routing.starts
                ).sum().float() / count.clamp_min(1.0)
                out[f"{name}_slots"] = torch.tensor(float(state.index.slots), device=dev)
                below = count
            if len(d.levels) == 2:
                out["bytes_per_phrase_unit"] = n_bytes / below.clamp_min(1.0)
        return out

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
        view = byte_view(input_ids)
        x, bits = self._byte_tokens(input_ids, code_ids, return_attention, view, segment_ids)
        d = self.hierarchy.descend(x, view, segment_ids, return_attention)
        x = self.hierarchy.ascend(d, return_attention)

        byte_hidden = self.final_norm(x)  # [B, L, D]
        logits = self.heads(byte_hidden)
        logits["bit_logits"] = self.bit_head(byte_hidden, bits.bit_features)  # [B, 8L]
        boundary = d.levels[0].routing.prob if d.levels else view.valid.float()
        stages, names, maps = self._stage_outputs(bits, d, return_attention)
        out = BitSwinOutput(
            bit_logits=logits["bit_logits"],
            byte_logits=logits["byte_logits"],
            boundary=boundary,
            replaced_logits=logits["replaced_logits"],
            structural_logits={
                "utf8_role": logits["utf8_role"],
                "char_class": logits["char_class"],
            },
            byte_hidden=byte_hidden,
            stages=stages,
            stage_names=names,
            unit_starts=tuple(byte_level_starts(d.levels)),
            attentions=maps,
            metrics=self._unit_metrics(d, view, bits.patterns),
        )
        if targets is not None:
            check_targets(targets, b, n_bytes)
            routings = [state.routing for state in d.levels]
            valids = [state.valid for state in d.levels]
            learned = self.config.router == "learned"
            with record_function(LOSS_RANGE):  # a torch.profiler range (bitlab bench train)
                out.loss, out.losses, metrics = compute_losses(
                    logits, targets, self.config.loss_weights, routings, valids, learned,
                    prior=self.config.unit_prior,
                )  # fmt: skip
            out.metrics.update(metrics)
        return out

    def _stage_outputs(
        self, bits: Any, d: Descent, return_attention: bool
    ) -> tuple[tuple[torch.Tensor, ...], tuple[str, ...], tuple[torch.Tensor, ...] | None]:
        """Stage outputs and attention maps in the order stages finish: bit, then from the
        innermost stage outwards to the byte stage."""
        order = [0, *range(self.config.num_stages - 1, 0, -1)]
        names = tuple(STAGE_NAMES[i] for i in order)
        outputs = {0: bits.bit_features, **d.outputs}
        stages = tuple(outputs[i] for i in order)
        if not return_attention:
            return stages, names, None
        maps: list[torch.Tensor] = [bits.attention]
        for i in order[1:]:
            n = outputs[i].shape[1]
            blocks = d.maps.get(i, [])
            maps.append(torch.stack([offsets_from_windows(w, n, s) for w, s in blocks], dim=1))
        return stages, names, tuple(maps)

    @torch.no_grad()
    def units(
        self,
        input_ids: torch.Tensor,
        *,
        segment_ids: torch.Tensor | None = None,
        code_ids: torch.Tensor | None = None,
    ) -> BitSwinUnits:
        """The model's units of `input_ids` (clean or shown text) from the bit stage, the byte
        encoder, the routers and the encoders between them only: no innermost stage, decoders
        or heads (FLOPs: `bitswin.estimate_flops_per_byte(..., units=True)`). For word and phrase
        masks built from the model's own units."""
        self._check_inputs(input_ids, segment_ids, code_ids)
        input_ids = input_ids.long()
        view = byte_view(input_ids)
        x, bits = self._byte_tokens(input_ids, code_ids, False, view, segment_ids)
        d = self.hierarchy.descend(x, view, segment_ids, units_only=True)
        boundary = d.levels[0].routing.prob if d.levels else view.valid.float()
        return BitSwinUnits(
            boundary=boundary,
            unit_starts=tuple(byte_level_starts(d.levels)),
            metrics=self._unit_metrics(d, view, bits.patterns),
        )

    # ------------------------------------------------------------------------------------
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _init_linear(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
