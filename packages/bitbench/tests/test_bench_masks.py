"""The masks benchmark: its report format, and that its seed-loop reference makes real masks."""

from __future__ import annotations

import math
import random

import torch
from bitbench.bench_masks import masks_bench, seed_batch_masks, text_windows


def test_quick_report_has_both_ratios():
    report = masks_bench(quick=True)
    assert report["name"] == "masks"
    keys = {"case", "metric", "value", "unit", "reference", "ratio", "target", "met"}
    assert all(set(row) == keys for row in report["rows"])
    metrics = {row["metric"]: row for row in report["rows"]}
    for name in (
        "vs seed 3.2 loop (wall)",
        "vs seed 3.2 loop (CPU time)",
        "vs seed A.2 loop (wall)",
    ):
        row = metrics[name]
        assert row["ratio"] > 0 and math.isfinite(row["ratio"]) and row["target"] == ">= 100x"
        assert row["met"] == (row["ratio"] >= 100)
    share = metrics["share of training step"]  # bitswin is part of the workspace
    assert (
        0 < share["value"] < 100 and share["unit"] == "%" and share["met"] == (share["value"] < 5)
    )
    assert report["notes"]


def test_seed_reference_makes_the_masks_it_claims():
    data = text_windows(16, 256, seed=3)
    for int_offsets in (False, True):
        masks = seed_batch_masks(data, epoch=100, rng=random.Random(1), int_offsets=int_offsets)
        assert len(masks) == 16 and set(masks[0]) == {
            "bit_mask",
            "byte_mask",
            "word_mask",
            "phrase_mask",
        }
        byte = torch.stack([m["byte_mask"] for m in masks]).reshape(16, 256, 8)
        assert torch.all(byte.amin(dim=2) == byte.amax(dim=2))  # whole bytes
        assert abs(byte[:, :, 0].mean().item() - 0.2) < 0.03
        assert abs(torch.stack([m["bit_mask"] for m in masks]).mean().item() - 0.15) < 0.02
        word = torch.stack([m["word_mask"] for m in masks])
        assert (
            0.1 < word.mean().item() < 0.4 and torch.stack([m["phrase_mask"] for m in masks]).any()
        )
    early = seed_batch_masks(data[:2], epoch=4, rng=random.Random(0))
    assert set(early[0]) == {"bit_mask"}
