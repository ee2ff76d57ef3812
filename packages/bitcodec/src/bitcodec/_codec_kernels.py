"""Numba kernels of the bit codec. Each writes into a preallocated output.

Bits are MSB first: byte 0x41 ('A') -> 0 1 0 0 0 0 0 1. The fast paths treat each group of 8
bit-bytes as one uint64 word (8 bytes in memory order); that needs a little-endian machine and
8-byte aligned buffers, which the callers in codec.py check before choosing them.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# LUT8[b] = the 8 bits of byte b, MSB first, as uint8 0/1.  Shape [256, 8].
LUT8: np.ndarray = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1)

# Multiplying a word whose 8 bytes are 0/1 (byte k = bit k, MSB first, little-endian memory) by
# this constant gathers sum(b_k << (7 - k)) into the top byte without carries between terms.
PACK_MAGIC = np.uint64(0x8040201008040201)
ONES_MASK = np.uint64(0x0101010101010101)  # the only bits a valid 0/1 word may have set
SHIFT56 = np.uint64(56)
# bytes -> bits words: SPREAD copies a byte into every lane; lane k (memory byte k) keeps bit
# 7 - k (LANE_BITS = 0x80, 0x40, ... 0x01 in memory order); LANE_CARRY moves it to the top bit.
SPREAD = np.uint64(0x0101010101010101)
LANE_BITS = np.uint64(0x0102040810204080)
LANE_CARRY = np.uint64(0x7F7F7F7F7F7F7F7F)
SHIFT7 = np.uint64(7)

# Work is cut into chunks of this many bytes (x8 bits) for the parallel kernels.
CHUNK_BYTES = 1 << 16


@njit(cache=True, nogil=True)
def bytes_to_bits_lut8(src: np.ndarray, lut8: np.ndarray, out: np.ndarray) -> None:
    """src uint8 [n] -> out uint8 [8n]; portable path (any alignment, any byte order)."""
    for i in range(src.shape[0]):
        row = lut8[src[i]]
        base = 8 * i
        for j in range(8):
            out[base + j] = row[j]


@njit(cache=True, nogil=True)
def bytes_to_bits_swar(src: np.ndarray, out64: np.ndarray) -> None:
    """src uint8 [n] -> out64 uint64 [n] (the caller's uint8 [8n] buffer viewed as words).

    Arithmetic instead of a table lookup, so that the loop vectorises: the byte is copied into
    all 8 lanes of a word, lane k keeps only bit 7-k (MSB first, little-endian memory), and
    adding 0x7F per lane carries any set bit into the lane's top bit, which is shifted down to
    bit 0. Measured 0.87x of a plain fill of the output at 64 MiB, against 0.53x for a
    256-entry table of words (and 2.7x faster in cache).
    """
    for i in range(src.shape[0]):
        x = np.uint64(src[i]) * SPREAD  # [b b b b b b b b]
        out64[i] = (((x & LANE_BITS) + LANE_CARRY) >> SHIFT7) & ONES_MASK


@njit(cache=True, nogil=True, parallel=True)
def bytes_to_bits_swar_parallel(src: np.ndarray, out64: np.ndarray) -> None:
    """Parallel form of bytes_to_bits_swar: chunks of CHUNK_BYTES across threads."""
    n = src.shape[0]
    num_chunks = (n + CHUNK_BYTES - 1) // CHUNK_BYTES
    for c in prange(num_chunks):
        start = c * CHUNK_BYTES
        stop = min(start + CHUNK_BYTES, n)
        for i in range(start, stop):
            x = np.uint64(src[i]) * SPREAD
            out64[i] = (((x & LANE_BITS) + LANE_CARRY) >> SHIFT7) & ONES_MASK


@njit(cache=True, nogil=True)
def bits_to_bytes_portable(bits: np.ndarray, out: np.ndarray) -> bool:
    """bits uint8 [8n] -> out uint8 [n]. Returns False if any bit is not 0/1 (out is then junk)."""
    acc = np.uint8(0)
    for i in range(out.shape[0]):
        base = 8 * i
        v = np.uint8(0)
        for j in range(8):
            b = bits[base + j]
            acc |= b
            v = (v << np.uint8(1)) | b
        out[i] = v
    return acc <= 1


@njit(cache=True, nogil=True)
def bits_to_bytes_word(bits64: np.ndarray, out: np.ndarray) -> bool:
    """bits64 uint64 [n] (8 bit-bytes per word, little-endian) -> out uint8 [n]; False if a
    bit is not 0/1."""
    bad = np.uint64(0)
    for i in range(bits64.shape[0]):
        x = bits64[i]
        bad |= x
        out[i] = np.uint8((x * PACK_MAGIC) >> SHIFT56)
    return (bad & ~ONES_MASK) == 0


@njit(cache=True, nogil=True, parallel=True)
def bits_to_bytes_word_parallel(bits64: np.ndarray, out: np.ndarray) -> bool:
    """Parallel form of bits_to_bytes_word; each chunk records its own validity flag."""
    n = bits64.shape[0]
    num_chunks = (n + CHUNK_BYTES - 1) // CHUNK_BYTES
    chunk_bad = np.zeros(num_chunks, dtype=np.uint64)
    for c in prange(num_chunks):
        start = c * CHUNK_BYTES
        stop = min(start + CHUNK_BYTES, n)
        bad = np.uint64(0)
        for i in range(start, stop):
            x = bits64[i]
            bad |= x
            out[i] = np.uint8((x * PACK_MAGIC) >> SHIFT56)
        chunk_bad[c] = bad
    bad_all = np.uint64(0)
    for c in range(num_chunks):
        bad_all |= chunk_bad[c]
    return (bad_all & ~ONES_MASK) == 0
