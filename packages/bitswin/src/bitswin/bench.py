"""`bitlab bench model`: BitSwin forward+backward speed and peak memory against a dense
full-attention transformer of the same width and depth over the same bits, in one process;
time per bit at 32k against 4k bits; forward FLOPs per byte of `tiny` against bitswin 0.1's.

Full run: the base config at 4k, 32k and 64k bits per sequence (batch 1). The dense
reference is measured at 1k, 2k and 4k bits; a dense layer at 32k bits needs about 200 GB, so
on CPU its time and memory above 4k bits are extrapolated from a least-squares fit
a + b*N + c*N^2 to the three measured points (the notes say so). On a GPU, bf16 autocast is
used and model FLOP utilisation is reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import torch

from bitswin.bench_rows import bench_row, best_seconds
from bitswin.config import BitSwinConfig
from bitswin.dense_reference import DenseBitTransformer, dense_flops_per_bit
from bitswin.flops import estimate_flops_per_byte, realised_flops_per_byte
from bitswin.memtrack import peak_memory_bytes
from bitswin.model import BitSwinModel

# bitswin 0.1's `tiny` training config (depths 1/1/1/1, widths 64/128/128/128, windows
# 8/64/256/1024 bits: per-byte stages after the 8:1 merge): forward FLOPs per byte at 256
# bytes, from its estimate_flops_per_byte (checked against FlopCounterMode then).
BITSWIN_0_1_TINY_FLOPS = 2.99e6
# Prose for the FLOPs row: distinct bit patterns depend on the text (written for the bench).
_PROSE = (
    b"The keeper climbed the ninety-two iron steps every morning and wiped the salt from the "
    b"lens. Nobody had asked him to; the lamp was electric now, and the ships carried maps of "
    b"the rocks. Still he climbed, because the habit had outlived its reason, and because from "
    b"the gallery he could watch the boats leave the harbour one by one. "
)

logger = logging.getLogger(__name__)

# Peak dense bf16 FLOP/s by device name, for model FLOP utilisation.
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 70e12}


class _Targets:
    """Just the fields the loss needs (what bitmask's MaskedBatch carries)."""

    def __init__(
        self, n_bytes: int, device: torch.device, seed: int, rows: int = 1, prose: bool = False
    ) -> None:
        g = torch.Generator().manual_seed(seed)
        if prose:
            text = (_PROSE * (rows * n_bytes // len(_PROSE) + 1))[: rows * n_bytes]
            data = torch.tensor(list(text)).reshape(rows, n_bytes)
        else:
            data = torch.randint(32, 127, (rows, n_bytes), generator=g)
        shifts = torch.arange(7, -1, -1)
        self.byte_targets = data.to(device)
        self.bit_targets = ((data[..., None] >> shifts) & 1).reshape(rows, -1).to(device)
        self.hidden_bytes = (torch.rand(rows, n_bytes, generator=g) < 0.15).to(device)
        self.hidden_bits = self.hidden_bytes.repeat_interleave(8, dim=1)
        self.pad = torch.zeros(rows, n_bytes, dtype=torch.bool, device=device)
        self.input_ids = self.bit_targets.masked_fill(self.hidden_bits, 2)


def _step_fn(
    model: torch.nn.Module, kind: str, n_bits: int, device: torch.device
) -> Callable[[], None]:
    targets = _Targets(n_bits // 8, device, seed=n_bits)
    autocast = device.type == "cuda"

    def step() -> None:
        model.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            if kind == "bitswin":
                loss = model(targets.input_ids, targets=targets).loss
            else:
                loss = model(targets.input_ids, targets.bit_targets)
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step


def _measure(step: Callable[[], None], device: torch.device, reps: int) -> tuple[float, int]:
    """(fastest of `reps` steps in seconds, peak bytes). The first call warms up and measures
    memory. The minimum, not the median: on shared CPUs other processes only ever add time."""
    peak = peak_memory_bytes(step, device)
    return best_seconds(step, reps)[0], peak


def _measure_interleaved(
    steps: dict[int, Callable[[], None]], device: torch.device, rounds: int
) -> dict[int, tuple[float, int]]:
    """Like `_measure` for several sizes, timed round-robin (every round runs each size once),
    so a burst of load from other processes hits all sizes alike: ratios between sizes are
    what matters here."""
    peaks = {n: peak_memory_bytes(step, device) for n, step in steps.items()}
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):
        for n, step in steps.items():
            start = time.perf_counter()
            step()
            best[n] = min(best[n], time.perf_counter() - start)
    return {n: (best[n], peaks[n]) for n in steps}


def _bits_label(n: int) -> str:
    return f"{n // 1024}k" if n % 1024 == 0 else str(n)


def _quadratic_fit(xs: list[float], ys: list[float]) -> Callable[[float], float]:
    a = torch.tensor([[1.0, x, x * x] for x in xs], dtype=torch.float64)
    y = torch.tensor(ys, dtype=torch.float64)[:, None]
    coef = torch.linalg.lstsq(a, y).solution[:, 0].tolist()
    return lambda x: coef[0] + coef[1] * x + coef[2] * x * x


def model_bench(quick: bool = False, device: str | None = None) -> dict[str, Any]:
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    config = BitSwinConfig.tiny() if quick else BitSwinConfig.base()
    sizes = [512, 1024, 2048] if quick else [4096, 32768, 65536]
    dense_sizes = sizes if quick or dev.type == "cuda" else [1024, 2048, 4096]
    reps = 1 if quick else 2
    dim, depth = config.hidden_size, sum(config.depths)
    dense_heads = max(1, dim // 64)
    torch.manual_seed(0)
    swin = BitSwinModel(config).to(dev).train()
    dense = DenseBitTransformer(dim, depth, dense_heads, config.mlp_ratio).to(dev).train()

    swin_res = _measure_interleaved(
        {n: _step_fn(swin, "bitswin", n, dev) for n in sizes}, dev, rounds=3 if quick else 4
    )
    dense_res = {n: _measure(_step_fn(dense, "dense", n, dev), dev, reps) for n in dense_sizes}
    measured = list(dense_res)
    t_fit = _quadratic_fit([float(n) for n in measured], [dense_res[n][0] for n in measured])
    m_fit = _quadratic_fit([float(n) for n in measured], [float(dense_res[n][1]) for n in measured])

    def dense_at(n: int) -> tuple[float, float, bool]:
        if n in dense_res:
            return dense_res[n][0], float(dense_res[n][1]), False
        return t_fit(n), m_fit(n), True

    rows: list[dict[str, Any]] = []
    first, last = sizes[0], sizes[-1]
    for n in sizes:
        t, peak = swin_res[n]
        dt, dpeak, extrapolated = dense_at(n)
        case = f"{_bits_label(n)} bits" + (" (dense extrapolated)" if extrapolated else "")
        speed, dspeed = n / t, n / dt
        speed_target = not quick and n == first
        rows.append(
            bench_row(
                case,
                "fwd+bwd speed",
                speed,
                "bits/s",
                dspeed,
                ">= 3x dense" if speed_target else None,
                speed / dspeed >= 3 if speed_target else None,
            )
        )
        mem_target = not quick and n == last
        rows.append(
            bench_row(
                case,
                "peak memory",
                peak / 2**20,
                "MiB",
                dpeak / 2**20,
                "<= 0.1x dense" if mem_target else None,
                peak / dpeak <= 0.1 if mem_target else None,
            )
        )
        if dev.type == "cuda":
            with torch.no_grad():
                metrics = swin(_Targets(n // 8, dev, n).input_ids).metrics
            flops = 3 * realised_flops_per_byte(config, n // 8, metrics) * n / 8
            achieved = flops / t
            rows.append(bench_row(case, "model FLOP/s (bf16)", achieved / 1e12, "TFLOP/s"))
            peak_flops = next(
                (v for k, v in PEAK_BF16_FLOPS.items() if k in torch.cuda.get_device_name(dev)),
                None,
            )
            if peak_flops:
                rows.append(bench_row(case, "MFU", achieved / peak_flops, "fraction"))
    mid = sizes[1]
    for big, target in ((mid, None if quick else 1.5), (last, None)):
        per_bit = (swin_res[big][0] / big) / (swin_res[first][0] / first)
        rows.append(
            bench_row(
                f"{_bits_label(big)} / {_bits_label(first)} bits",
                "time per bit",
                per_bit,
                "x",
                None,
                None if target is None else f"<= {target}",
                None if target is None else per_bit <= target,
            )
        )
    rows.append(_tiny_flops_row(dev))
    fpb = estimate_flops_per_byte(config, first // 8)
    dense_fpb = 8 * dense_flops_per_bit(dim, depth, config.mlp_ratio, first)
    rows.append(
        bench_row(
            f"{first // 8} bytes ({'tiny' if quick else 'base'}, upper bound)",
            "forward FLOPs per byte vs dense",
            fpb,
            "FLOP/byte",
            dense_fpb,
        )
    )
    notes = [
        f"config: {'tiny' if quick else 'base'}, {swin.num_parameters():,} parameters; "
        f"dense: width {dim}, depth {depth}, {dense_heads} heads, one token per bit, "
        "score matrix materialised",
        f"device {dev.type}; batch 1; time = fastest of 3-4 round-robin rounds over the sizes "
        "(dense: of 1-2 steps) after one warm-up step; "
        "peak memory = "
        + (
            "torch.cuda.max_memory_allocated"
            if dev.type == "cuda"
            else "peak of live tensor storages seen by a TorchDispatchMode "
            "(activations, temporaries, gradients)"
        ),
    ]
    if any(n not in dense_res for n in sizes):
        notes.append(
            "dense at "
            + ", ".join(f"{n // 1024}k" for n in sizes if n not in dense_res)
            + " bits: extrapolated (least-squares a+bN+cN^2 over the measured "
            + ", ".join(f"{n // 1024}k" for n in measured)
            + " bits); too big to run on CPU"
        )
    notes.append(
        "tiny FLOPs: 16 x 256 bytes of prose, 15% of the bytes hidden; distinct bit patterns as "
        "measured, word / phrase slots at the unit targets (ceil(L/5), ceil(L/15)); bitswin 0.1 "
        "reference: its tiny training config, 2.99 MFLOP/byte"
    )
    return {"name": "model", "rows": rows, "notes": notes}


def _tiny_flops_row(dev: torch.device) -> dict[str, Any]:
    config = BitSwinConfig.tiny()
    torch.manual_seed(0)
    model = BitSwinModel(config).to(dev).eval()
    n = 256
    targets = _Targets(n, dev, seed=0, rows=16, prose=True)
    with torch.no_grad():
        metrics = model(targets.input_ids).metrics
    fpb = estimate_flops_per_byte(
        config,
        n,
        bit_patterns_per_byte=float(metrics["bit_patterns_per_byte"]),
        unit_slots=(-(-n // 5), -(-n // 15)),
    )
    ratio = fpb / BITSWIN_0_1_TINY_FLOPS
    return bench_row(
        "tiny, 256 bytes, units at target",
        "forward FLOPs per byte vs bitswin 0.1",
        fpb,
        "FLOP/byte",
        BITSWIN_0_1_TINY_FLOPS,
        "<= 0.7x",
        ratio <= 0.7,
    )
