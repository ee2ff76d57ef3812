"""Exact round trips on every text file of the shared data (all scripts, emoji)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bitcodec import (
    batch_bits_to_bytes,
    batch_bytes_to_bits,
    bits_to_bytes,
    bits_to_text,
    bytes_to_bits,
    char_starts,
    text_to_bits,
    utf8_roles,
)
from bitcodec.facts import Utf8Role

TEXT_SUFFIXES = {".txt", ".tsv", ".utf8", ".csv", ".md", ".conllu"}

pytestmark = pytest.mark.shared_data


def _text_files(root: Path) -> list[Path]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
    assert files, f"no text files under {root}"
    return files


def test_round_trips_on_every_shared_text_file(shared_data: Path) -> None:
    decoded_files = 0
    for path in _text_files(shared_data):
        data = path.read_bytes()
        bits = bytes_to_bits(data)
        assert bits.size == 8 * len(data)
        assert bits_to_bytes(bits) == data, path
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        decoded_files += 1
        assert np.array_equal(text_to_bits(text), bits), path
        assert bits_to_text(bits) == text, path
        # per-byte facts agree with Python's decoder on the same text
        roles = utf8_roles(data)
        assert not (roles == Utf8Role.INVALID).any(), path
        assert int(char_starts(data).sum()) == len(text), path
    assert decoded_files > 0


def test_batch_round_trip_on_windows_of_shared_text(shared_data: Path) -> None:
    rng = np.random.default_rng(0)
    for path in _text_files(shared_data):
        data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
        if data.size < 64:
            continue
        starts = rng.integers(0, data.size - 63, size=32)
        windows = data[starts[:, None] + np.arange(64)]  # [32, 64]
        bits = batch_bytes_to_bits(windows)  # [32, 512]
        assert np.array_equal(bits, np.unpackbits(windows, axis=1)), path
        assert np.array_equal(batch_bits_to_bytes(bits), windows), path
