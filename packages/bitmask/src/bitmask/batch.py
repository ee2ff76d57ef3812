"""``MaskedBatch``: everything the model sees and must predict for one batch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from bitmask.config import Level

IGNORE_INDEX = -100  # structural targets at padding (torch's cross_entropy ignores it)


@dataclass(frozen=True)
class MaskedBatch:
    """Model inputs and targets of one batch, all on the input's device.

    Shapes: B samples of L bytes; bit-level fields are [B, 8L] (bit 8j+k is bit k, MSB first,
    of byte j).

    - ``input_ids`` long [B, 8L] in {BIT0, BIT1, MASK_ID, PAD_ID}, after masking and corruption
    - ``bit_targets`` long [B, 8L] true bits; ``byte_targets`` long [B, L] true bytes
    - ``mask_bit`` bool [B, 8L]; ``mask_byte``, ``mask_word``, ``mask_phrase`` bool [B, L]: each
      level's own mask (levels overlap; each is sampled independently)
    - ``hidden_bits`` bool [B, 8L]: bits shown as MASK_ID
    - ``hidden_bytes`` bool [B, L]: bytes shown as MASK on all 8 bits by the byte/word/phrase
      levels (with BERT 80/10/10 only the 80% part)
    - ``predict_bytes`` bool [B, L]: bytes the byte head must predict: all bytes selected by the
      byte/word/phrase levels (equals ``hidden_bytes`` without BERT corruption)
    - ``predict_bits`` bool [B, 8L]: ``mask_bit`` plus the bits of ``predict_bytes``
    - ``pad`` bool [B, L] (True = padding; its 8 input ids are PAD_ID, it is never masked)
    - ``replaced`` bool [B, L]: a visible bit of the byte differs from the truth (ELECTRA or
      BERT-random corruption); a replacement equal to the truth is not "replaced"
    - ``utf8_role``, ``char_class`` long [B, L]: bitcodec facts of the true bytes
      (IGNORE_INDEX = -100 at padding); ``unit_start`` bool [B, L] from the boundary source used;
      ``unit_id`` long [B, L] index of each byte's unit in its row (-1 at padding)
    - ``phase`` int 1..4, ``rates`` dict level name -> rate in force (0.0 = inactive)
    - ``window_level`` long [B]: index in LEVELS (0 bit .. 3 phrase) of the one level that
      masked each window under the level mixture, -1 when levels were stacked (fewer than two
      active, or ``level_mixture=False``)
    """

    input_ids: torch.Tensor
    bit_targets: torch.Tensor
    byte_targets: torch.Tensor
    mask_bit: torch.Tensor
    mask_byte: torch.Tensor
    mask_word: torch.Tensor
    mask_phrase: torch.Tensor
    hidden_bits: torch.Tensor
    hidden_bytes: torch.Tensor
    predict_bits: torch.Tensor
    predict_bytes: torch.Tensor
    pad: torch.Tensor
    replaced: torch.Tensor
    utf8_role: torch.Tensor
    char_class: torch.Tensor
    unit_start: torch.Tensor
    unit_id: torch.Tensor
    phase: int = 1
    rates: dict[str, float] = field(default_factory=dict)
    window_level: torch.Tensor | None = None

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }

    def to(self, device: torch.device | str) -> MaskedBatch:
        return dataclasses.replace(self, **{k: v.to(device) for k, v in self.tensors().items()})

    @property
    def device(self) -> torch.device:
        return self.input_ids.device

    def level_mask(self, level: Level | str) -> torch.Tensor:
        """The mask of one level by name ('bit' [B, 8L], others [B, L])."""
        return getattr(self, f"mask_{Level(level).value}")
