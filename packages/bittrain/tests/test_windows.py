"""Sequences packed into padded windows."""

from __future__ import annotations

import pytest
from bittrain.engine.windows import pack_windows
from bittrain.errors import BittrainError


def test_pack_windows_cuts_long_sequences():
    windows, pad, pieces = pack_windows([b"abcdefg", b"", b"xy"], seq_len=3)
    assert pieces == [(0, 0, 3), (0, 3, 3), (0, 6, 1), (2, 0, 2)]
    assert windows[2, 0] == ord("g") and pad[2].tolist() == [False, True, True]
    with pytest.raises(BittrainError, match="seq_len"):
        pack_windows([b"a"], 0)
