"""`bitlab bench masks`: bitmask.make_masks against the seed's per-element loops, and as a share
of one bitswin training step on the same batch.

The reference is a direct port of the seed's ``generate_multilevel_masks`` (section 3.2): the bit
mask from one ``torch.bernoulli``, the byte mask from a Python loop over the byte offsets of a
``torch.arange`` with ``random.random()`` per byte and a slice assignment per hit, and word and
phrase masks (the seed leaves ``generate_word_masks`` / ``generate_phrase_masks`` undefined) as
the same kind of loop over units. A second row uses appendix A.2's variant of the loop (plain
Python ints as offsets, which is faster). The word starts the seed would ask a model for come
from bitcodec's Numba ``word_starts`` (timed with the reference). Everything runs in this process
on the same batches; numbers depend on the machine's load, ratios much less.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from bitcodec import batch_bytes_to_bits, word_starts
from bitmask import MaskConfig, make_masks
from bitswin import BitSwinConfig, BitSwinModel
from bitswin.bench_rows import bench_row, best_seconds

# Words of the synthetic English-and-Chinese text the benchmark masks.
_WORD_TEXT = (
    "the of and a to in is was that for it with as on by bits bytes model learns units "
    "我们 中文 语言 模型 学习 比特 的 了 , . ; 42 1999"
)
_WORDS = _WORD_TEXT.split(" ")


def text_windows(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """uint8 [batch, length]: windows of English-and-Chinese-like text."""
    rng = np.random.default_rng(seed)
    text = " ".join(rng.choice(_WORDS, size=batch * length // 2)).encode()
    starts = rng.integers(0, len(text) - length, size=batch)
    return torch.from_numpy(
        np.stack([np.frombuffer(text[s : s + length], np.uint8) for s in starts])
    )


# -- the seed's loops, ported ------------------------------------------------------------------


def _seed_word_masks(
    seq_length: int, boundaries: list[int], prob: float, rng: random.Random, int_offsets: bool
) -> torch.Tensor:
    mask = torch.zeros(seq_length)
    ends = [*boundaries[1:], seq_length]
    starts: Any = boundaries if int_offsets else torch.tensor(boundaries)
    for start, end in zip(starts, ends, strict=True):
        if rng.random() < prob:
            mask[start:end] = 1
    return mask


def _seed_phrase_masks(
    seq_length: int,
    boundaries: list[int],
    prob: float,
    rng: random.Random,
    int_offsets: bool,
    span_p: float = 0.2,
    span_cap: int = 10,
) -> torch.Tensor:
    mask = torch.zeros(seq_length)
    ends = [*boundaries[1:], seq_length]
    starts: Any = boundaries if int_offsets else torch.tensor(boundaries)
    n = len(boundaries)
    i = 0
    while i < n:  # SpanBERT-style: start a span here with prob / mean span, geometric length
        if rng.random() < prob * span_p:
            length = 1
            while length < span_cap and rng.random() > span_p:
                length += 1
            last = min(i + length, n) - 1
            mask[starts[i] : ends[last]] = 1
            i += length
        else:
            i += 1
    return mask


def seed_generate_multilevel_masks(
    input_sequence: torch.Tensor,
    current_training_epoch: int,
    word_boundaries: list[int],
    rng: random.Random,
    int_offsets: bool = False,
) -> dict[str, torch.Tensor]:
    """The seed's section 3.2 function for one bit sequence [8L] (word_boundaries in bits)."""
    seq_length = len(input_sequence)
    masks = {}
    bit_mask_prob = 0.15
    masks["bit_mask"] = torch.bernoulli(torch.full((seq_length,), bit_mask_prob))
    epoch = current_training_epoch
    if epoch >= 5:
        byte_indices: Any = (
            range(0, seq_length, 8) if int_offsets else torch.arange(0, seq_length, 8)
        )
        byte_mask_prob = min(0.2, 0.15 + (epoch - 5) * 0.01)
        byte_mask = torch.zeros(seq_length)
        for idx in byte_indices:
            if idx + 8 <= seq_length and rng.random() < byte_mask_prob:
                byte_mask[idx : idx + 8] = 1
        masks["byte_mask"] = byte_mask
    if epoch >= 15:
        word_mask_prob = min(0.25, 0.15 + (epoch - 15) * 0.01)
        masks["word_mask"] = _seed_word_masks(
            seq_length, word_boundaries, word_mask_prob, rng, int_offsets
        )
    if epoch >= 30:
        phrase_mask_prob = min(0.3, 0.15 + (epoch - 30) * 0.01)
        masks["phrase_mask"] = _seed_phrase_masks(
            seq_length, word_boundaries, phrase_mask_prob, rng, int_offsets
        )
    return masks


def seed_batch_masks(
    byte_batch: torch.Tensor, epoch: int, rng: random.Random, int_offsets: bool = False
) -> list[dict[str, torch.Tensor]]:
    """The seed's loop over a batch: boundaries (bitcodec word starts), then one call per sample."""

    data = byte_batch.numpy()
    bits = torch.from_numpy(batch_bytes_to_bits(data))  # [B, 8L]
    starts = word_starts(data)  # [B, L]
    out = []
    for b in range(data.shape[0]):
        boundaries = [0, *(8 * int(j) for j in np.flatnonzero(starts[b]) if j > 0)]
        out.append(seed_generate_multilevel_masks(bits[b], epoch, boundaries, rng, int_offsets))
    return out


# -- timing --------------------------------------------------------------------------------------


def _seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one call: the best of ``repeats`` after a warm-up call.

    On a shared machine the best run is the fairest wall time; CPU time (this process, all its
    threads) does not count the time other processes held the cores.
    """
    fn()
    wall, cpu = best_seconds(fn, repeats)
    return wall, max(cpu, 1e-9)


def _training_step_seconds(batch: Any, repeats: int) -> tuple[float, str]:
    """Forward + backward of bitswin's tiny config on the batch (seconds, what was timed)."""
    torch.manual_seed(0)
    model = BitSwinModel(BitSwinConfig.tiny())

    def step() -> None:
        out = model(batch.input_ids, targets=batch)
        out.loss.backward()
        model.zero_grad(set_to_none=True)

    wall, _cpu = _seconds(step, repeats)
    return wall, "bitswin tiny config, forward + backward (no optimizer step)"


def masks_bench(quick: bool = False) -> dict[str, Any]:
    """Masks per second vs the seed's loops (target >= 100x), and share of a training step (< 5%).

    The comparison with the seed's loops runs torch on one thread (the loops use one core);
    the share of the training step uses the process's thread setting for both.
    """

    batch, length = (4, 64) if quick else (64, 512)
    epoch = 100  # all four levels on, at their appendix-B rates
    data = text_windows(batch, length, seed=1)
    config = MaskConfig()
    repeats = 3 if quick else 20
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ours, ours_cpu = _seconds(lambda: make_masks(data, config, epoch=epoch), repeats)
        rng = random.Random(0)
        seed32, seed32_cpu = _seconds(lambda: seed_batch_masks(data, epoch, rng), 1)
        seed_a2, _ = _seconds(lambda: seed_batch_masks(data, epoch, rng, int_offsets=True), 1)
    finally:
        torch.set_num_threads(threads)

    case = f"[{batch}, {length}] bytes, 4 levels"

    def versus(metric: str, mine: float, reference: float) -> dict[str, Any]:
        ratio = reference / mine
        return bench_row(
            case, metric, batch / mine, "samples/s", batch / reference, ">= 100x", ratio >= 100
        )

    rows = [
        versus("vs seed 3.2 loop (wall)", ours, seed32),
        versus("vs seed 3.2 loop (CPU time)", ours_cpu, seed32_cpu),
        versus("vs seed A.2 loop (wall)", ours, seed_a2),
    ]
    notes = [
        f"1 thread: make_masks {ours * 1e3:.2f} ms/batch wall, {ours_cpu * 1e3:.2f} ms CPU; "
        f"seed 3.2 loop {seed32 * 1e3:.0f} ms wall, {seed32_cpu * 1e3:.0f} ms CPU; "
        f"seed A.2 loop {seed_a2 * 1e3:.0f} ms wall (CPU, no GPU used)",
    ]
    masked = make_masks(data, config, epoch=epoch)
    step, how = _training_step_seconds(masked, 1 if quick else 2)
    mine, _ = _seconds(lambda: make_masks(data, config, epoch=epoch), repeats)
    share = mine / step
    rows.append(
        bench_row(
            case, "share of training step", 100.0 * share, "%", target="< 5%", met=share < 0.05
        )
    )
    notes.append(
        f"{threads} threads: make_masks {mine * 1e3:.2f} ms, training step "
        f"{step * 1e3:.0f} ms wall ({how})"
    )
    return {"name": "masks", "rows": rows, "notes": notes}
