"""`bitlab bench codec`: the bit codec against numpy and the seed's pure-Python conversion.

Run: ``python -c "from bitcodec.bench_codec import codec_bench; print(codec_bench(quick=True))"``
or ``bitlab bench codec``. Every ratio is against a reference run in the same process on the same
data; each timing is the best of a few repetitions after the kernels are warmed up.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from bitcodec import _codec_kernels as K
from bitcodec._reference import seed_text_to_bits
from bitcodec.codec import (
    batch_bits_to_bytes,
    bits_to_bytes,
    bits_to_text,
    bytes_to_bits,
    text_to_bits,
)

logger = logging.getLogger(__name__)

MIB = 1 << 20


def _best_seconds(*fns: Callable[[], Any], repeats: int) -> list[float]:
    """Best time of each function over ``repeats`` rounds; rounds interleave the functions so
    that load from other processes hits candidate and reference alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            result = fn()
            best[k] = min(best[k], time.perf_counter() - start)
            del result  # free big outputs before the next call
    return best


def _seed_bits_to_text(bit_string: str) -> str:
    """The seed's style, inverted: pure Python over a '0'/'1' string."""
    data = bytes(int(bit_string[i : i + 8], 2) for i in range(0, len(bit_string), 8))
    return data.decode("utf-8")


def _row(
    case: str,
    versus: str,
    seconds: float,
    ref_seconds: float,
    num_bytes: int,
    ref_bytes: int,
    target: float | None,
) -> dict[str, Any]:
    value = num_bytes / seconds / 1e6
    reference = ref_bytes / ref_seconds / 1e6
    ratio = value / reference
    return {
        "case": case,
        "metric": f"MB/s vs {versus}",
        "value": value,
        "unit": "MB/s",
        "reference": reference,
        "ratio": ratio,
        "target": None if target is None else f">= {target:g}x",
        "met": None if target is None else bool(ratio >= target),
    }


def _bench_bytes_to_bits(data: np.ndarray, label: str, repeats: int) -> list[dict[str, Any]]:
    size = data.size
    bits = np.empty(8 * size, dtype=np.uint8)  # [8 * size]
    bits.fill(1)  # touch every page before timing
    out64 = bits.view(np.uint64)  # [size]
    threads = numba.get_num_threads()
    t_unpack, t_alloc, t_out, t_fill, t_serial, t_parallel = _best_seconds(
        lambda: np.unpackbits(data),
        lambda: bytes_to_bits(data),
        lambda: bytes_to_bits(data, out=bits),
        lambda: bits.fill(1),
        lambda: K.bytes_to_bits_swar(data, out64),
        lambda: K.bytes_to_bits_swar_parallel(data, out64),
        repeats=repeats,
    )
    mib = f"{8 * size // MIB} MiB"
    return [
        _row(f"bytes->bits {label}", "unpackbits", t_alloc, t_unpack, size, size, None),
        _row(f"bytes->bits {label} out=", "unpackbits", t_out, t_unpack, size, size, None),
        _row(
            f"bytes->bits {label} out=",
            f"fill of the same {mib} (write bandwidth)",
            t_out,
            t_fill,
            size,
            size,
            0.8,
        ),
        _row(
            f"bytes->bits {label} kernel",
            f"1 thread ({threads} vs 1)",
            t_parallel,
            t_serial,
            size,
            size,
            None,
        ),
    ]


def _bench_bits_to_bytes(data: np.ndarray, label: str, repeats: int) -> list[dict[str, Any]]:
    size = data.size
    bits = np.unpackbits(data)  # [8 * size]
    bits_2d = bits.reshape(1, -1)  # [1, 8 * size]
    out = np.empty((1, size), dtype=np.uint8)  # [1, size]
    out.fill(0)
    t_pack, t_public, t_out = _best_seconds(
        lambda: np.packbits(bits),
        lambda: bits_to_bytes(bits),
        lambda: batch_bits_to_bytes(bits_2d, out=out),
        repeats=repeats,
    )
    if not np.array_equal(out[0], data) or bits_to_bytes(bits) != data.tobytes():
        raise RuntimeError("bits->bytes round trip failed in the codec benchmark")
    return [
        _row(f"bits->bytes {label} bits_to_bytes", "packbits", t_public, t_pack, size, size, 1),
        _row(f"bits->bytes {label} batch out=", "packbits", t_out, t_pack, size, size, 1),
    ]


def _bench_vs_seed(data: np.ndarray, seed_size: int, repeats: int) -> list[dict[str, Any]]:
    """Per-byte throughput on the same slice of ASCII text (per-byte costs do not depend on the
    script): the seed's loop is too slow for the big sizes."""
    text = (data[:seed_size] & 0x7F).tobytes().decode("ascii")
    text_bits = text_to_bits(text)
    seed_bits = seed_text_to_bits(text)
    t_seed, t_seed_back = _best_seconds(
        lambda: seed_text_to_bits(text), lambda: _seed_bits_to_text(seed_bits), repeats=repeats
    )
    # Ours takes tens of microseconds here: many more tries, so that one unlucky time slice on a
    # shared machine does not decide the number.
    t_text, t_back = _best_seconds(
        lambda: text_to_bits(text), lambda: bits_to_text(text_bits), repeats=10 * repeats
    )
    kib = f"{seed_size // 1024} KiB"
    n = seed_size
    return [
        _row(f"text->bits {kib}", "seed text_to_bits", t_text, t_seed, n, n, 500),
        _row(f"bits->text {kib}", "seed-style inverse", t_back, t_seed_back, n, n, 500),
    ]


def codec_bench(quick: bool = False) -> dict[str, Any]:
    """Measure the codec; ``quick`` uses 4 MiB instead of 256 MiB (seconds instead of ~1 min)."""
    size = 4 * MIB if quick else 256 * MIB
    seed_size = 64 * 1024 if quick else 256 * 1024
    repeats = 5
    label = f"{size // MIB} MiB"
    data = np.random.default_rng(0).integers(0, 256, size=size, dtype=np.uint8)  # [size]
    bits_to_text(bytes_to_bits(data[: 64 * 1024] & 0x7F))  # load / compile kernels before timing
    batch_bits_to_bytes(bytes_to_bits(data[: 16 * MIB]).reshape(1, -1))  # the parallel forms too
    rows = _bench_bytes_to_bits(data, label, repeats)
    rows += _bench_bits_to_bytes(data, label, repeats)
    rows += _bench_vs_seed(data, seed_size, repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    notes = [
        f"{os.cpu_count()} CPUs, numba {numba.get_num_threads()} threads "
        f"(layer {numba.threading_layer()}), load average {load:.2f} at the end",
        f"best of {repeats} interleaved runs after warm-up on random bytes; MB = 1e6 bytes of "
        "text (input bytes for bytes->bits, output bytes for bits->bytes); 'out=' writes into a "
        "preallocated buffer, the others allocate their result (as numpy does)",
        "references: numpy.unpackbits / numpy.packbits on the same array; the seed's pure-Python "
        "text_to_bits (bin(b)[2:].zfill(8) string building) and the same style inverted, on the "
        "same ASCII slice as ours",
        "past the caches bytes->bits writes 8 output bytes per input byte, so memory write "
        "bandwidth bounds every implementation: the 'fill' row compares it with numpy's fill of "
        "the same preallocated output buffer",
    ]
    logger.info("codec bench: %s", [(r["case"], round(r["ratio"], 2)) for r in rows])
    return {"name": "codec", "rows": rows, "notes": notes}
