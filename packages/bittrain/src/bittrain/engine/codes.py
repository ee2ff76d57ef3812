"""Encoding-table codes as model input, computed from what the model is shown.

Each row's shown bytes (hidden bytes read as 0, padding left out) are encoded at one level of
the table (its best segmentation); every byte of a unit carries the unit's code, and every byte
of a unit with any hidden bit, and every padding byte, gets -1 ("no code"). A code therefore
never reveals a hidden byte, nor the original of a replaced one. Training and evaluation both
call this one function.

A table that feeds the model and keeps growing (``table_mode = "adaptive"``) must be the same on
every rank: ``grow_table`` feeds it the batches of all ranks, in rank order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from bitcodec import batch_bits_to_bytes
from bittokens import BIT1, PAD_ID


class TableCodes:
    """``codes(input_ids long [B, 8L]) -> long [B, L]`` for one table level."""

    def __init__(self, table: Any, level: int) -> None:
        self.table = table  # an enctable.AdaptiveEncodingTable (may keep growing: adaptive)
        self.level = int(level)

    @property
    def vocab_size(self) -> int:
        """Embedding rows the model needs for this level's codes."""
        return int(self.table.code_space(self.level))

    def __call__(self, input_ids: torch.Tensor) -> torch.Tensor:
        b = input_ids.shape[0]
        ids = input_ids.reshape(b, -1, 8).cpu()  # [B, L, 8]
        shown = (ids <= BIT1).all(dim=-1).numpy()  # [B, L] all 8 bits are 0/1
        pad = (ids == PAD_ID).all(dim=-1).numpy()  # [B, L]
        bits = torch.where(ids <= BIT1, ids, 0).to(torch.uint8).reshape(b, -1).numpy()
        rows = batch_bits_to_bytes(bits)  # [B, L] shown bytes, 0 where hidden or padding
        lookup = self.table.lookup(self.level)
        out = np.full(rows.shape, -1, dtype=np.int64)  # [B, L]
        for i in range(b):
            real = np.flatnonzero(~pad[i])  # the row's bytes, encoded as one text
            if real.size == 0:
                continue
            codes = np.asarray(self.table.encode(rows[i, real], self.level), dtype=np.int64)
            safe = np.minimum(codes, len(lookup.code_len) - 1)
            lengths = np.where(codes < 256, 1, lookup.code_len[safe])  # bytes per unit
            unit = np.repeat(np.arange(codes.size), lengths)  # [n_real] unit of each byte
            usable = np.ones(codes.size, dtype=bool)
            np.logical_and.at(usable, unit, shown[i, real])  # all of the unit's bytes shown
            out[i, real] = np.where(usable[unit], codes[unit], -1)
        return torch.from_numpy(out).to(input_ids.device)


def grow_table(
    table: Any, windows: torch.Tensor, scores: torch.Tensor, step: int, *, every_rank: bool
) -> None:
    """Feed ``table`` the windows uint8 [B, L] and unit-start scores float [B, L] of this rank,
    or with ``every_rank`` (a table whose codes feed the model) those of every rank in rank order
    (all-gathered), so that every rank holds the same table."""
    scores = scores.float()
    if every_rank and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        n = dist.get_world_size()
        gathered_w = [torch.empty_like(windows) for _ in range(n)]
        gathered_s = [torch.empty_like(scores) for _ in range(n)]
        dist.all_gather(gathered_w, windows.contiguous())
        dist.all_gather(gathered_s, scores.contiguous())
        windows, scores = torch.cat(gathered_w), torch.cat(gathered_s)
    table.update_tables(windows.cpu().numpy(), scores.cpu().numpy(), step=step)
