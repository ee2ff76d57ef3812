"""Fixtures of the bitswin tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # helpers.py

from bitswin import BitSwinConfig


@pytest.fixture
def micro_config() -> BitSwinConfig:
    """Small enough for exact float64 checks in milliseconds; exercises every code path:
    bit stage, merge, a width change between byte stages, shifted windows, codes, abs. pos."""
    return BitSwinConfig(
        depths=(2, 2, 2),
        widths=(8, 16, 24),
        heads=(2, 2, 3),
        windows_bits=(8, 24, 40),
        code_vocab_size=11,
        absolute_positions=64,
    )
