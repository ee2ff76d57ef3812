"""Input embeddings (bit value and bit-in-byte position; absolute byte position and
encoding-table codes on the byte tokens) and the 8-bits -> 1-byte merge."""

from __future__ import annotations

import torch
from bittokens import BIT0, BIT1, BIT_VOCAB_SIZE
from torch import nn


class BitEmbedding(nn.Module):
    """Embeds bit ids [N, 8] in {0, 1, MASK, PAD} (one row per byte) -> [N, 8, D].

    value + position inside the byte (0..7, MSB first); nothing about where the byte sits, so
    the bit stage is a function of the byte's 8 ids alone (what lets it run per distinct
    pattern). Positions that matter for attention live in its relative bias.
    """

    def __init__(self, dim: int, init_std: float) -> None:
        super().__init__()
        self.value = nn.Embedding(BIT_VOCAB_SIZE, dim)
        self.bit_position = nn.Embedding(8, dim)
        nn.init.normal_(self.value.weight, std=init_std)
        with torch.no_grad():
            # BIT1 starts as -BIT0: the two values differ as much as they can and add no
            # common offset to every byte.
            self.value.weight[BIT1] = -self.value.weight[BIT0]
        # The position of a bit inside its byte is also its slot in the merge; this embedding
        # only informs the bit stage, and starts 10x smaller than the values. At the same size
        # it is a vector shared by every byte that dominates the merged byte vectors (letters
        # then look alike, cos ~0.9) and the model sits at unigram loss (README "Initialisation").
        nn.init.normal_(self.bit_position.weight, std=0.1 * init_std)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.value(ids) + self.bit_position.weight  # [N, 8, D]


class ByteMerge(nn.Module):
    """Concatenates the 8 bit vectors of each byte and maps them to one byte vector with a
    small MLP: [B, 8L, D] -> [B, L, 8D] -> [B, L, D'].

    A linear merge keeps the byte a linear function of its bits, and what a byte *means* is far
    from linear in its bits (bit patterns of neighbouring letters share most bits). The hidden
    layer, initialised at gain 2, gives nonlinear byte features from step 0.
    """

    def __init__(self, bit_dim: int, byte_dim: int, eps: float, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(8 * bit_dim, eps=eps)
        self.fc = nn.Linear(8 * bit_dim, hidden)
        self.act = nn.GELU()
        self.proj = nn.Linear(hidden, byte_dim)

    def reset_parameters(self) -> None:
        # Gain 2: pre-activations of a few units each, so GELU acts as a real nonlinearity.
        nn.init.normal_(self.fc.weight, std=2.0 * self.fc.in_features**-0.5)
        # Unit gain out: byte vectors of O(1), so a byte's identity dominates the (std-0.02
        # initialised) residual branches of the byte stages instead of drowning in them.
        nn.init.normal_(self.proj.weight, std=self.proj.in_features**-0.5)
        nn.init.zeros_(self.proj.bias)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.act(self.fc(self.norm(x.reshape(b, n // 8, 8 * d))))  # [B, L, hidden]
        return self.proj(h)  # [B, L, D']


class CodeEmbedding(nn.Module):
    """Embedding of one encoding-table code per byte; code -1 means "no code" (adds zero)."""

    def __init__(self, vocab: int, dim: int, init_std: float) -> None:
        super().__init__()
        self.table = nn.Embedding(vocab, dim)
        nn.init.normal_(self.table.weight, std=init_std)

    def forward(self, code_ids: torch.Tensor) -> torch.Tensor:
        present = (code_ids >= 0).unsqueeze(-1)  # [B, L, 1]
        return self.table(code_ids.clamp(min=0)) * present  # [B, L, D]


class BytePositions(nn.Module):
    """Learned absolute byte-position embedding added to the byte tokens: [L] -> [L, D]."""

    def __init__(self, positions: int, dim: int, init_std: float) -> None:
        super().__init__()
        self.table = nn.Embedding(positions, dim)
        nn.init.normal_(self.table.weight, std=init_std)

    def forward(self, n_bytes: int) -> torch.Tensor:
        return self.table.weight[:n_bytes]  # [L, D]
