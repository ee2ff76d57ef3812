"""A BPE measured like an encoding-table level (the table comparison's BPE side)."""

from __future__ import annotations

from bitbaselines.bpe import train_reference_bpe
from bitbench.compression import bpe_stats


def test_bpe_stats_for_the_table_comparison():
    texts = [b"the cat sat on the mat. " * 20, "猫坐在垫子上。".encode() * 10]
    tok = train_reference_bpe(texts, vocab_size=302)
    stats, codes = bpe_stats(tok, texts)
    assert stats.roundtrip_exact and stats.vocab_size == tok.get_vocab_size() - 2
    assert stats.num_bytes == sum(len(t) for t in texts)
    assert stats.bytes_per_code > 1.5  # merges shorten the text
    assert stats.num_codes == len(codes)
