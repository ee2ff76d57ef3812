"""Bytes -> bit ids on the device: the torch twin of ``bitcodec.batch_bytes_to_bits``.

This is the one place where a torch tensor of bytes becomes the model's bit ids (MSB first, as
in bitcodec: 'A' = 0x41 -> 0 1 0 0 0 0 0 1); ``tests/test_bits.py`` holds it equal to bitcodec.
"""

from __future__ import annotations

import torch

_BIT_TABLES: dict[str, torch.Tensor] = {}


def _bit_table(device: torch.device) -> torch.Tensor:
    """uint8 [256, 8]: the bits of every byte value, MSB first (one copy per device)."""
    table = _BIT_TABLES.get(str(device))
    if table is None:
        values = torch.arange(256)
        table = ((values[:, None] >> torch.arange(7, -1, -1)) & 1).to(torch.uint8).to(device)
        _BIT_TABLES[str(device)] = table
    return table


def bytes_to_bits(data: torch.Tensor) -> torch.Tensor:
    """Integer [B, L] bytes (0..255) -> uint8 [B, 8L] bits, MSB first (a table lookup)."""
    bits = _bit_table(data.device)[data.long()]  # [B, L, 8]
    return bits.reshape(data.shape[0], 8 * data.shape[1])  # [B, 8L]


def bit_ids(data: torch.Tensor) -> torch.Tensor:
    """Integer [B, L] bytes -> long [B, 8L] model input ids (BIT0 = 0, BIT1 = 1): every bit shown."""
    return bytes_to_bits(data).long()
