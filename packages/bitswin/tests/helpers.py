"""Test helpers: build MaskedBatch-like targets without bitmask (same fields)."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from bittokens import MASK_ID, PAD_ID

# About 2 KB of plain English prose (written for these tests).
TEXT_2KB = (
    "The lighthouse keeper rose before dawn every morning, climbed the ninety-two iron steps, "
    "and wiped the salt from the great lens with a soft grey cloth. Nobody had asked him to do "
    "it for years; the lamp was electric now and the ships carried their own maps of the rocks. "
    "Still he climbed, because the habit had outlived its reason, and because from the gallery "
    "he could watch the fishing boats leave the harbour one by one, their wakes drawing pale "
    "lines across the dark water. His daughter wrote to him from the city twice a month. She "
    "described trams and markets, a library with a glass roof, a friend who played the cello in "
    "an orchestra that rehearsed in a disused church. He answered each letter on the evening it "
    "arrived, in a small careful hand, telling her about the weather, the gulls, the price of "
    "coal, and the seal that had taken to sleeping on the slipway. In autumn the storms came in "
    "from the west. Waves broke over the lower wall and the whole tower hummed like a struck "
    "bell. On those nights he did not sleep; he sat in the kitchen with the radio murmuring and "
    "a pot of tea going cold beside him, listening to the wind try every window. When morning "
    "came he would walk the length of the causeway to see what the sea had left: a broken oar, "
    "a tangle of green net, once a wooden chair standing upright on the sand as if someone had "
    "carried it there to watch the tide. One spring a young surveyor arrived with instruments in "
    "padded cases and a letter from the harbour board. The light was to be automated fully; the "
    "keeper's cottage would be sold. The surveyor was apologetic and stayed three days, measuring "
    "things that had never been measured, and on the last evening the two men ate fried fish and "
    "talked about tides until late. After the surveyor left, the keeper took down the old brass "
    "logbook and read the first entry, written by a stranger ninety years before: wind north, "
    "sea moderate, all well. He closed the book, set the kettle on the stove, and went up the "
    "steps one more time to see the light come on by itself. It did, at dusk."
)


def text_bytes(text: str = TEXT_2KB) -> torch.Tensor:
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.long)


def bytes_to_bit_ids(byte_batch: torch.Tensor) -> torch.Tensor:
    """long [B, L] bytes -> long [B, 8L] bits, MSB first."""
    shifts = torch.arange(7, -1, -1)
    bits = (byte_batch.long().unsqueeze(-1) >> shifts) & 1  # [B, L, 8]
    return bits.reshape(byte_batch.shape[0], -1)


def make_targets(
    byte_batch: torch.Tensor,
    hidden_bytes: torch.Tensor,
    pad: torch.Tensor | None = None,
    hidden_bits: torch.Tensor | None = None,
) -> SimpleNamespace:
    """A MaskedBatch look-alike: bytes in `hidden_bytes` are shown as 8 MASK_IDs, `hidden_bits`
    (bool [B, 8L]) as single MASK_IDs, `pad` bytes as 8 PAD_IDs."""
    b, n = byte_batch.shape
    pad = torch.zeros(b, n, dtype=torch.bool) if pad is None else pad
    hidden_bytes = hidden_bytes & ~pad
    bits = bytes_to_bit_ids(byte_batch)
    mask_bit = torch.zeros(b, 8 * n, dtype=torch.bool) if hidden_bits is None else hidden_bits
    mask_bit = mask_bit & ~pad.repeat_interleave(8, dim=1)
    all_hidden_bits = mask_bit | hidden_bytes.repeat_interleave(8, dim=1)
    input_ids = bits.clone()
    input_ids[all_hidden_bits] = MASK_ID
    input_ids[pad.repeat_interleave(8, dim=1)] = PAD_ID
    return SimpleNamespace(
        input_ids=input_ids,
        bit_targets=bits,
        byte_targets=byte_batch.long(),
        mask_bit=mask_bit,
        mask_byte=hidden_bytes,
        mask_word=torch.zeros_like(hidden_bytes),
        mask_phrase=torch.zeros_like(hidden_bytes),
        hidden_bits=all_hidden_bits,
        hidden_bytes=hidden_bytes,
        pad=pad,
        replaced=torch.zeros_like(hidden_bytes),
    )
