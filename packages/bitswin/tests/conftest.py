"""Fixtures of the bitswin tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # helpers.py

from bitswin import BitSwinConfig

MICRO = {
    "depths": (1, 3, 2, 2),
    "widths": (8, 16, 24, 16),
    "heads": (2, 2, 3, 2),
    "windows": (4, 5, 3, 2),
    "unit_targets": (3.0, 2.0),
    "code_vocab_size": 11,
    "absolute_positions": 64,
    "ngram_sizes": (2, 3, 5),
    "ngram_hashes": 2,
    "ngram_buckets": 13,
}


@pytest.fixture
def micro_config() -> BitSwinConfig:
    """Small enough for exact float64 checks in milliseconds; exercises every code path: a
    shifted bit stage inside each byte, width changes between stages, encoder / decoder
    splits, both unit levels, codes, absolute positions, hashed n-grams."""
    return BitSwinConfig(**MICRO)


@pytest.fixture(params=["learned", "spacelike", "fixed", "none"])
def router_config(request) -> BitSwinConfig:
    """The micro config with each router variant."""
    return BitSwinConfig(**MICRO, router=request.param)
