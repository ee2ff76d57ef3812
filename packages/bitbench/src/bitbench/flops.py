"""FLOPs bookkeeping for comparing models at matched compute (DESIGN.md: compare at matched
training FLOPs, report bits per byte).

Forward FLOPs per byte come from each model (``EvalModel.flops_per_byte``; bitswin's
``estimate_flops_per_byte``); training costs about three forwards (forward + backward with
gradients for activations and weights), so a run's training FLOPs are
``steps x batch_size x seq_len_bytes x 3 x flops_per_byte``.
"""

from __future__ import annotations

from bitbench.errors import BitbenchError

TRAIN_FACTOR = 3.0  # forward + backward ~ 3 forwards


def training_flops(
    steps: int,
    batch_size: int,
    seq_len_bytes: int,
    flops_per_byte: float,
    *,
    factor: float = TRAIN_FACTOR,
) -> float:
    """Total training FLOPs of ``steps`` optimizer steps of ``batch_size`` windows of
    ``seq_len_bytes`` bytes (global batch: all ranks together)."""
    for name, value in (
        ("steps", steps),
        ("batch_size", batch_size),
        ("seq_len_bytes", seq_len_bytes),
    ):
        if value < 0:
            raise BitbenchError(f"{name} is {value}: training FLOPs need a count >= 0")
    if flops_per_byte < 0:
        raise BitbenchError(f"flops_per_byte is {flops_per_byte}: pass a forward cost >= 0")
    return float(steps) * batch_size * seq_len_bytes * factor * flops_per_byte


def per_byte_from_per_token(flops_per_token: float, bytes_per_token: float) -> float:
    """Forward FLOPs per byte of a token model: its FLOPs per token over the bytes a token covers."""
    if bytes_per_token <= 0:
        raise BitbenchError(f"bytes per token is {bytes_per_token}: it must be > 0")
    return flops_per_token / bytes_per_token


def format_flops(value: float | None) -> str:
    """'1.23e+15' style with an SI suffix for people ('1.2 PFLOP')."""
    if value is None:
        return "-"
    for scale, suffix in (
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
    ):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {suffix}FLOP"
    return f"{value:.3g} FLOP"
