"""`bitlab bench model`: BitSwin forward+backward speed and peak memory against a dense
full-attention transformer of the same width and depth over the same bits, in one process.

Full run: the default (base) config at 4k, 16k and 64k bits per sequence (batch 1). The dense
reference is measured at 1k, 2k and 4k bits; a dense layer at 16k bits needs about 50 GB and
minutes of CPU, at 64k bits about 0.8 TB, so on CPU its time and memory at 16k and 64k are
extrapolated from a least-squares fit a + b*N + c*N^2 to the three measured points (the notes
say so). On a GPU, bf16 autocast is used and model FLOP utilisation is reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import torch

from bitswin.config import BitSwinConfig
from bitswin.dense_reference import DenseBitTransformer, dense_flops_per_bit
from bitswin.flops import estimate_flops_per_byte
from bitswin.memtrack import peak_memory_bytes
from bitswin.model import BitSwinModel

logger = logging.getLogger(__name__)

# Peak dense bf16 FLOP/s by device name, for model FLOP utilisation.
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 70e12}


class _Targets:
    """Just the fields the loss needs (what bitmask's MaskedBatch carries)."""

    def __init__(self, n_bytes: int, device: torch.device, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        data = torch.randint(32, 127, (1, n_bytes), generator=g)
        shifts = torch.arange(7, -1, -1)
        self.byte_targets = data.to(device)
        self.bit_targets = ((data[..., None] >> shifts) & 1).reshape(1, -1).to(device)
        self.hidden_bytes = (torch.rand(1, n_bytes, generator=g) < 0.2).to(device)
        self.hidden_bits = self.hidden_bytes.repeat_interleave(8, dim=1)
        self.pad = torch.zeros(1, n_bytes, dtype=torch.bool, device=device)
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
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times), peak


def _quadratic_fit(xs: list[float], ys: list[float]) -> Callable[[float], float]:
    a = torch.tensor([[1.0, x, x * x] for x in xs], dtype=torch.float64)
    y = torch.tensor(ys, dtype=torch.float64)[:, None]
    coef = torch.linalg.lstsq(a, y).solution[:, 0].tolist()
    return lambda x: coef[0] + coef[1] * x + coef[2] * x * x


def _row(
    case: str,
    metric: str,
    value: float,
    unit: str,
    reference: float | None = None,
    ratio: float | None = None,
    target: str | None = None,
    met: bool | None = None,
) -> dict[str, Any]:
    return {
        "case": case,
        "metric": metric,
        "value": value,
        "unit": unit,
        "reference": reference,
        "ratio": ratio,
        "target": target,
        "met": met,
    }


def model_bench(quick: bool = False, device: str | None = None) -> dict[str, Any]:
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    config = BitSwinConfig.tiny() if quick else BitSwinConfig.base()
    sizes = [512, 1024, 2048] if quick else [4096, 16384, 65536]
    dense_sizes = sizes if quick or dev.type == "cuda" else [1024, 2048, 4096]
    reps = 1 if quick else 2
    dim, depth = config.hidden_size, sum(config.depths)
    dense_heads = max(1, dim // 64)
    torch.manual_seed(0)
    swin = BitSwinModel(config).to(dev).train()
    dense = DenseBitTransformer(dim, depth, dense_heads, config.mlp_ratio).to(dev).train()

    # Short sequences are cheap: more repeats there steady the 64k/4k ratio.
    swin_res = {
        n: _measure(_step_fn(swin, "bitswin", n, dev), dev, max(reps, min(8, 32768 // n)))
        for n in sizes
    }
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
        case = f"{n // 1024}k bits" + (" (dense extrapolated)" if extrapolated else "")
        speed, dspeed = n / t, n / dt
        speed_target = not quick and n == first
        rows.append(
            _row(
                case,
                "fwd+bwd speed",
                speed,
                "bits/s",
                dspeed,
                speed / dspeed,
                ">= 3x dense" if speed_target else None,
                speed / dspeed >= 3 if speed_target else None,
            )
        )
        mem_target = not quick and n == last
        rows.append(
            _row(
                case,
                "peak memory",
                peak / 2**20,
                "MiB",
                dpeak / 2**20,
                peak / dpeak,
                "<= 0.1x dense" if mem_target else None,
                peak / dpeak <= 0.1 if mem_target else None,
            )
        )
        if dev.type == "cuda":
            flops = 3 * estimate_flops_per_byte(config, n // 8) * n / 8
            achieved = flops / t
            rows.append(_row(case, "model FLOP/s (bf16)", achieved / 1e12, "TFLOP/s"))
            peak_flops = next(
                (v for k, v in PEAK_BF16_FLOPS.items() if k in torch.cuda.get_device_name(dev)),
                None,
            )
            if peak_flops:
                rows.append(_row(case, "MFU", achieved / peak_flops, "fraction"))
    scaling = swin_res[last][0] / swin_res[first][0]
    rows.append(
        _row(
            f"{last // 1024}k / {first // 1024}k bits",
            "time ratio",
            scaling,
            "x",
            None,
            None,
            None if quick else "<= 18",
            None if quick else scaling <= 18,
        )
    )
    fpb = estimate_flops_per_byte(config, first // 8)
    dense_fpb = 8 * dense_flops_per_bit(dim, depth, config.mlp_ratio, first)
    rows.append(
        _row(
            f"{first // 8} bytes",
            "forward FLOPs per byte",
            fpb,
            "FLOP/byte",
            dense_fpb,
            fpb / dense_fpb,
        )
    )
    notes = [
        f"config: {'tiny' if quick else 'base (default)'}, {swin.num_parameters():,} parameters; "
        f"dense: width {dim}, depth {depth}, {dense_heads} heads, one token per bit, "
        "score matrix materialised",
        f"device {dev.type}; batch 1; time = fastest of 2-8 steps after one warm-up step; "
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
    return {"name": "model", "rows": rows, "notes": notes}
