"""The byte-level BPE reference on a tiny corpus."""

from __future__ import annotations

import pytest
from bitbench.bpe_reference import bpe_stats, train_byte_bpe
from bitbench.errors import BitbenchError


def test_bpe_learns_merges_and_round_trips():
    texts = [b"the cat sat on the mat. " * 20, "猫坐在垫子上。".encode() * 10]
    tok = train_byte_bpe(texts, vocab_size=300)
    assert 256 < tok.get_vocab_size() <= 300
    stats, codes = bpe_stats(tok, texts)
    assert stats.roundtrip_exact
    assert stats.num_bytes == sum(len(t) for t in texts)
    assert stats.bytes_per_code > 1.5  # merges shorten the text
    assert stats.num_codes == len(codes)


def test_bpe_vocab_too_small():
    with pytest.raises(BitbenchError, match="below"):
        train_byte_bpe([b"abc"], vocab_size=100)
