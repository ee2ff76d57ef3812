"""The byte-level BPE of bitbaselines: exact on any bytes, deterministic; bitbench 0.1's Latin-1
tokenizers are refused."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from bitbaselines.bpe import (
    MASK_TOKEN_ID,
    PAD_TOKEN_ID,
    byte_symbols,
    encode_pieces,
    load_tokenizer,
    save_tokenizer,
    token_byte_lengths,
    train_reference_bpe,
    utf8_runs,
)
from bitbaselines.errors import BitbaselinesError
from bitbaselines.tokenizer import encode_windows
from hypothesis import given, settings
from hypothesis import strategies as st

CORPUS = (
    "The quick brown fox jumps over the lazy dog. 1234 5678!! "
    "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u3002 "
    "Ein Fu\u00df, zwei F\u00fc\u00dfe. \U0001f600\U0001f600 "
).encode() * 30
PIECES = [CORPUS[i : i + 300] for i in range(0, len(CORPUS), 300)]
TOK = train_reference_bpe(PIECES, 500)
LENGTHS = token_byte_lengths(TOK)
REVERSE = {s: b for b, s in enumerate(byte_symbols())}


def _decode_bytes(ids: np.ndarray) -> bytes:
    return bytes(REVERSE[ch] for i in ids for ch in TOK.id_to_token(int(i)))


def test_training_is_deterministic_and_byte_level():
    again = train_reference_bpe(PIECES, 500)
    assert again.to_str() == TOK.to_str()
    assert TOK.token_to_id("[PAD]") == PAD_TOKEN_ID and TOK.token_to_id("[MASK]") == MASK_TOKEN_ID
    assert 258 < TOK.get_vocab_size() <= 500  # merges stop when pairs run out
    saved = json.loads(TOK.to_str())
    assert saved["pre_tokenizer"]["type"] == "ByteLevel"  # what Hugging Face users know
    assert "Ġquick" in TOK.get_vocab()  # GPT-2 style: a word with the space before it


def test_training_is_the_same_in_another_process(tmp_path):
    data = tmp_path / "corpus.bin"
    data.write_bytes(CORPUS)
    code = (
        "import sys; from bitbaselines.bpe import train_reference_bpe;"
        "d = open(sys.argv[1], 'rb').read();"
        "print(train_reference_bpe([d[i:i+300] for i in range(0, len(d), 300)], 500).to_str())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(data)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == TOK.to_str()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=80), min_size=1, max_size=4))
def test_tokens_cover_exactly_the_input_bytes(rows):
    ids, _, lengths = encode_windows(TOK, rows, max_tokens=1000)
    for r, row in enumerate(rows):
        real = ids[r, : lengths[r]]
        assert _decode_bytes(real) == row
        assert int(LENGTHS[real].sum()) == len(row)
        assert (ids[r, lengths[r] :] == PAD_TOKEN_ID).all()


def test_invalid_utf8_and_special_names_are_plain_bytes():
    assert utf8_runs(b"ab\xffc\xe4\xb8") == [(0, 2, True), (2, 3, False), (3, 4, True),
                                              (4, 5, False), (5, 6, False)]  # fmt: skip
    (ids,) = encode_pieces(TOK, [b"a [MASK] b [PAD]"])
    assert MASK_TOKEN_ID not in ids.tolist() and PAD_TOKEN_ID not in ids.tolist()
    assert _decode_bytes(ids) == b"a [MASK] b [PAD]"
    (cut,) = encode_pieces(TOK, ["天气".encode()[1:]])  # a window cut inside a character
    assert _decode_bytes(cut) == "天气".encode()[1:]


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


def test_bitbench_01_latin1_tokenizer_is_refused(tmp_path):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    old = Tokenizer(models.BPE())
    old.pre_tokenizer = pre_tokenizers.Split(Regex(r" ?[A-Za-z]+"), behavior="isolated")
    old.train_from_iterator(
        ["the cat"] * 5,
        trainers.BpeTrainer(
            vocab_size=300, special_tokens=["[PAD]", "[MASK]"], show_progress=False
        ),
    )
    path = tmp_path / "tokenizer.json"
    save_tokenizer(old, path)
    with pytest.raises(BitbaselinesError, match=r"Latin-1.*retrain"):
        load_tokenizer(path)


def test_vocabulary_below_the_byte_alphabet_is_refused():
    with pytest.raises(BitbaselinesError, match="below"):
        train_reference_bpe([b"abc"], vocab_size=100)
