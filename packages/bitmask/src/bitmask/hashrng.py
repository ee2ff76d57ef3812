"""Counter-based random numbers: a pure function of (seed, sample index, time, stream, counter).

Why not ``torch.Generator``: its stream depends on the device, on the order of calls and on the
batch a sample sits in. Here every random draw is ``splitmix64(key + counter * GOLDEN)``, computed
in wrapping int64 arithmetic, so the same (seed, sample_index, step) gives bitwise the same masks
on CPU and CUDA, in any batch, on any data-parallel rank; ranks differ because their samples have
different global indices.

Draws are 24-bit integers (the top bits of the hash) compared against integer thresholds, so no
floating point enters a decision and a plain-Python reference can reproduce every bit.
"""

from __future__ import annotations

from enum import IntEnum

import torch

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15  # 2^64 / golden ratio: the splitmix64 increment
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
U24 = 1 << 24  # draws are uniform integers in [0, U24)
COUNTER_OFFSET = 1 << 20  # phrase starts use counters from -(cap-1): shift them positive


class Stream(IntEnum):
    """Independent random streams, one per kind of decision."""

    BIT = 1
    BYTE = 2
    WORD = 3
    PHRASE_START = 4
    PHRASE_LENGTH = 5
    BERT_CHOICE = 6
    BERT_RANDOM = 7
    REPLACE_SELECT = 8
    REPLACE_VALUE = 9
    LEVEL = 10  # which level a window draws from the mixture
    PHRASE_UNIT = 11  # phrase units given as starts: which are masked
    RANDOM_WORD_UNITS = 12  # unit_placement="random": the order of a row's word units
    RANDOM_PHRASE_UNITS = 13  # ... and of its given phrase units
    COHESION_WORD = 14  # unit_choice="cohesion": the word level's draws (count, Gumbel keys)
    COHESION_PHRASE = 15  # ... the phrase level's on given phrase units


def _signed(value: int) -> int:
    """A 64-bit pattern as the int64 torch stores it."""
    value &= MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def mix64_int(z: int) -> int:
    """splitmix64's finaliser on a Python int (the scalar half of the key derivation)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * _MIX1) & MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & MASK64
    return z ^ (z >> 31)


def _shr(z: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 (torch's >> is arithmetic: clear the copied sign bits)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def mix64(z: torch.Tensor) -> torch.Tensor:
    """splitmix64's finaliser, elementwise on int64 (multiplication wraps modulo 2^64).

    Works in place on a fresh copy with one scratch buffer: on CPU the cost of these hashes is
    memory traffic, and new multi-megabyte tensors per operation would double it.
    """
    z = z.clone()
    t = torch.empty_like(z)
    for shift, factor in ((30, _MIX1), (27, _MIX2), (31, None)):
        torch.bitwise_right_shift(z, shift, out=t)
        t &= (1 << (64 - shift)) - 1  # logical shift: clear the copied sign bits
        z ^= t
        if factor is not None:
            z *= _signed(factor)
    return z


def time_code(epoch: float | None, step: int | None) -> int:
    """The integer that stands for "when" in the key: the step if given, else the epoch."""
    if step is not None:
        return (int(step) << 1) | 1
    if epoch is not None:
        # Fractional epochs are allowed: 1/1024 epoch resolution is plenty for a mask stream.
        return round(float(epoch) * 1024) << 1
    return 0


def base_key(seed: int, time: int) -> int:
    """Key shared by every sample of one call: mixes the seed and the time code."""
    return mix64_int(mix64_int(int(seed) * GOLDEN + 1) ^ (int(time) * _MIX2))


def sample_keys(seed: int, time: int, sample_index: torch.Tensor) -> torch.Tensor:
    """Per-sample keys [B] (int64) from the call key and each sample's global index."""
    key = _signed(base_key(seed, time))
    return mix64(sample_index.to(torch.int64) * _signed(GOLDEN) + key)


def stream_keys(keys: torch.Tensor, stream: Stream) -> torch.Tensor:
    """Per-sample keys of one stream, shape [B, 1] to broadcast against counters."""
    return mix64(keys ^ _signed(mix64_int(int(stream) * GOLDEN)))[:, None]


def draw_u24(keys: torch.Tensor, stream: Stream, counters: torch.Tensor) -> torch.Tensor:
    """Uniform integers in [0, 2^24), int64 [B, N]: one per (sample, counter).

    keys: int64 [B] per-sample keys; counters: int64 [N] or [B, N] (positions, bit indices,
    unit indices): the draw at a counter never depends on other counters or other samples.
    """
    h = mix64(stream_keys(keys, stream) + counters.to(torch.int64) * _signed(GOLDEN))
    return _shr(h, 40)


def draw_u16x4(keys: torch.Tensor, stream: Stream, counters: torch.Tensor) -> torch.Tensor:
    """Four uniform 16-bit integers per counter, int64 [B, 4N]: element 4c + m is bits
    63-16m .. 48-16m of the hash of counter c (used for the bit level, 8 draws per byte)."""
    h = mix64(stream_keys(keys, stream) + counters.to(torch.int64) * _signed(GOLDEN))  # [B, N]
    draws = torch.empty(*h.shape, 4, dtype=torch.int64, device=h.device)  # [B, N, 4]
    for m in range(4):  # scalar shifts: far faster than one broadcast shift by a tensor
        torch.bitwise_right_shift(h, 48 - 16 * m, out=draws[..., m])
    draws &= 0xFFFF
    return draws.reshape(h.shape[0], 4 * h.shape[1])  # [B, 4N]


def bernoulli16x4(
    keys: torch.Tensor, stream: Stream, counters: torch.Tensor, p: float
) -> torch.Tensor:
    """Bool [B, 4N]: ``draw_u16x4(...) < threshold16(p)``, without the int64 [B, 4N] draws."""
    h = mix64(stream_keys(keys, stream) + counters.to(torch.int64) * _signed(GOLDEN))  # [B, N]
    out = torch.empty(*h.shape, 4, dtype=torch.bool, device=h.device)  # [B, N, 4]
    lane = torch.empty_like(h)
    cut = threshold16(p)
    for m in range(4):
        torch.bitwise_right_shift(h, 48 - 16 * m, out=lane)
        lane &= 0xFFFF
        torch.lt(lane, cut, out=out[..., m])
    return out.reshape(h.shape[0], 4 * h.shape[1])  # [B, 4N]


def threshold16(probability: float) -> int:
    """Integer threshold t with P(16-bit draw < t) = probability (to 2^-16)."""
    return round(min(max(float(probability), 0.0), 1.0) * 65536)


def threshold(probability: float) -> int:
    """Integer threshold t with P(draw_u24 < t) = probability (to 2^-24)."""
    return round(min(max(float(probability), 0.0), 1.0) * U24)


def bernoulli(keys: torch.Tensor, stream: Stream, counters: torch.Tensor, p: float) -> torch.Tensor:
    """Bool [B, N]: True with probability p, independently per (sample, counter)."""
    return draw_u24(keys, stream, counters) < threshold(p)
