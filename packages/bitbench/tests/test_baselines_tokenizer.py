"""Byte-level BPE of the BPE baseline: exact on any bytes, deterministic, resumable."""

from __future__ import annotations

import numpy as np
from bitbench.baselines import make_baseline_task, train_bpe
from bitbench.baselines.tokenizer import (
    MASK_TOKEN_ID,
    PAD_TOKEN_ID,
    encode_windows,
    token_byte_lengths,
)
from hypothesis import given, settings
from hypothesis import strategies as st

CORPUS = (
    "The quick brown fox jumps over the lazy dog. 1234 5678!! "
    "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u3002 "
    "Ein Fu\u00df, zwei F\u00fc\u00dfe. \U0001f600\U0001f600 "
).encode() * 30
PIECES = [CORPUS[i : i + 300] for i in range(0, len(CORPUS), 300)]
TOK = train_bpe(PIECES, 500)
LENGTHS = token_byte_lengths(TOK)


def _decode_bytes(ids: np.ndarray) -> bytes:
    return b"".join(TOK.id_to_token(int(i)).encode("latin-1") for i in ids)


def test_training_is_deterministic():
    again = train_bpe(PIECES, 500)
    assert again.to_str() == TOK.to_str()
    assert TOK.token_to_id("[PAD]") == PAD_TOKEN_ID and TOK.token_to_id("[MASK]") == MASK_TOKEN_ID
    assert 258 < TOK.get_vocab_size() <= 500  # merges stop when pairs run out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=80), min_size=1, max_size=4))
def test_tokens_cover_exactly_the_input_bytes(rows):
    ids, _, lengths = encode_windows(TOK, rows, max_tokens=1000)
    for r, row in enumerate(rows):
        real = ids[r, : lengths[r]]
        assert _decode_bytes(real) == row
        assert int(LENGTHS[real].sum()) == len(row)
        assert (ids[r, lengths[r] :] == PAD_TOKEN_ID).all()


def test_windows_are_cut_at_document_starts():
    window = np.frombuffer(b"hello worldhello world", dtype=np.uint8)[None, :]
    starts = np.zeros_like(window, dtype=bool)
    starts[0, 11] = True
    ids, seg, lengths = encode_windows(TOK, window, starts, max_tokens=100)
    n = int(lengths[0])
    boundaries = np.cumsum(LENGTHS[ids[0, :n]])
    assert 11 in boundaries  # no token spans the document start
    assert set(seg[0, :n].tolist()) == {0, 1}
    assert (np.diff(seg[0, :n]) >= 0).all()


def test_max_tokens_truncates_rows():
    ids, _, lengths = encode_windows(TOK, [CORPUS[:400]], max_tokens=7)
    assert ids.shape == (1, 7) and lengths[0] == 7


class _Split:
    def __init__(self, data: bytes) -> None:
        self.data = np.frombuffer(data, dtype=np.uint8)
        self.num_bytes = len(data)
        self.num_docs = 1
        self.calls = 0

    def sample_windows(self, n, length, rng):
        self.calls += 1
        starts = rng.integers(0, self.num_bytes - length + 1, size=n)
        w = np.stack([self.data[s : s + length] for s in starts])
        return w, np.zeros_like(w, dtype=bool)


def test_task_tokenizer_is_deterministic_and_reused_on_resume(tmp_path):
    cfg = {"d_model": 32, "n_layers": 1, "n_heads": 2, "vocab_size": 450}
    split = _Split(CORPUS)
    a = make_baseline_task("bpe", cfg, train_split=split, run_dir=tmp_path / "a", seed=0,
                           total_steps=1)  # fmt: skip
    b = make_baseline_task("bpe", cfg, train_split=split, run_dir=tmp_path / "b", seed=0,
                           total_steps=1)  # fmt: skip
    assert a.tokenizer.to_str() == b.tokenizer.to_str()
    assert a.config.vocab_size == a.tokenizer.get_vocab_size()
    assert 1.0 < a.config.bytes_per_token < 20.0
    calls = split.calls
    again = make_baseline_task("bpe", cfg, train_split=split, run_dir=tmp_path / "a", seed=5,
                               total_steps=1)  # fmt: skip
    assert split.calls == calls  # resumed runs read RUN/tokenizer.json, no re-training
    assert again.tokenizer.to_str() == a.tokenizer.to_str()
