"""bitmask's torch bit ids agree with bitcodec's NumPy codec (one bit order everywhere)."""

from __future__ import annotations

import numpy as np
import torch
from bitcodec import batch_bytes_to_bits
from bitmask import bit_ids, bytes_to_bits
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=4, max_size=4), min_size=1, max_size=6))
def test_bits_equal_bitcodec(rows: list[bytes]) -> None:
    data = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), 4)
    expected = batch_bytes_to_bits(data)
    got = bytes_to_bits(torch.from_numpy(data.copy()))
    assert got.dtype == torch.uint8
    assert np.array_equal(got.numpy(), expected)
    assert torch.equal(bit_ids(torch.from_numpy(data.copy())), got.long())


def test_msb_first() -> None:
    assert bit_ids(torch.tensor([[0x41]])).tolist() == [[0, 1, 0, 0, 0, 0, 0, 1]]
