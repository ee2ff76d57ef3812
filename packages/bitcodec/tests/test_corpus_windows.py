"""CorpusSplit.sample_windows and the local window cache."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from bitcodec.corpus_cache import cache_files
from bitcodec.corpus_reader import open_corpus
from bitcodec.corpus_writer import CorpusWriter
from bitcodec.errors import BitcodecError
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    rng = np.random.default_rng(0)
    docs = [
        rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes()
        for _ in range(500)
    ]
    path = tmp_path_factory.mktemp("w") / "c.zarr"
    with CorpusWriter(path, val_fraction=0.0, chunk_bytes=4096, offsets_chunk=64) as w:
        for d in docs:
            w.add(d)
    return path, docs


def _check_windows(split, docs: list[bytes], starts, windows, doc_starts, length: int) -> None:
    flat = b"".join(docs)
    begins = set(np.cumsum([0] + [len(d) for d in docs])[:-1].tolist())
    for s, win, ds in zip(starts, windows, doc_starts, strict=True):
        assert win.tobytes() == flat[s : s + length]
        assert [j for j in range(length) if ds[j]] == [j for j in range(length) if s + j in begins]


@pytest.mark.parametrize("memory_limit", [1 << 30, 0])  # in RAM, and through the disk cache
def test_windows_are_slices_with_doc_starts(store, tmp_path: Path, memory_limit: int) -> None:
    path, docs = store
    split = open_corpus(path, cache_dir=tmp_path, memory_limit=memory_limit).train
    windows, doc_starts = split.sample_windows(64, 100, np.random.default_rng(5))
    assert windows.shape == (64, 100) and windows.dtype == np.uint8
    assert doc_starts.shape == (64, 100) and doc_starts.dtype == bool
    starts = np.random.default_rng(5).integers(0, split.num_bytes - 100 + 1, size=64)
    _check_windows(split, docs, starts, windows, doc_starts, 100)
    if memory_limit == 0:
        data_path, _ = cache_files(split._fingerprint, tmp_path)
        assert data_path.stat().st_size == split.num_bytes


@settings(max_examples=30, deadline=None)
@given(starts=st.lists(st.integers(0, 10**9), min_size=1, max_size=20), length=st.integers(1, 700))
def test_windows_at_matches_slicing(store, starts: list[int], length: int) -> None:
    path, docs = store
    split = open_corpus(path).train
    starts_arr = np.array([s % (split.num_bytes - length + 1) for s in starts])
    windows, doc_starts = split.windows_at(starts_arr, length)
    _check_windows(split, docs, starts_arr, windows, doc_starts, length)


def test_sampling_is_a_function_of_the_rng(store) -> None:
    split = open_corpus(store[0]).train
    a = split.sample_windows(16, 50, np.random.default_rng(9))
    b = split.sample_windows(16, 50, np.random.default_rng(9))
    c = split.sample_windows(16, 50, np.random.default_rng(10))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_starts_cover_the_whole_split(store) -> None:
    split = open_corpus(store[0]).train
    length = 32
    windows, _ = split.sample_windows(4000, length, np.random.default_rng(0))
    flat = split.data().tobytes()
    # the windows are those of the documented draw, which falls evenly into 4 quarters
    rng = np.random.default_rng(0)
    starts = rng.integers(0, split.num_bytes - length + 1, size=4000)
    assert all(windows[i].tobytes() == flat[s : s + length] for i, s in enumerate(starts[:50]))
    counts = np.bincount(starts * 4 // split.num_bytes, minlength=4)
    assert counts.min() > 850


def test_window_longer_than_split_is_an_error(store) -> None:
    corpus = open_corpus(store[0])
    with pytest.raises(BitcodecError, match=r"is empty \(no documents\): re-create the store"):
        corpus.val.sample_windows(1, 8, np.random.default_rng(0))  # val_fraction=0: empty
    size = corpus.train.num_bytes
    with pytest.raises(BitcodecError, match=f"fewer than one window.*at most {size} bytes"):
        corpus.train.sample_windows(1, size + 1, np.random.default_rng(0))


def test_stale_cache_is_rebuilt_and_split_pickles(store, tmp_path: Path) -> None:
    path, docs = store
    split = open_corpus(path, cache_dir=tmp_path, memory_limit=0).train
    split.data()
    data_path, meta_path = cache_files(split._fingerprint, tmp_path)
    data_path.write_bytes(b"\0" * split.num_bytes)  # right size, wrong content...
    meta = json.loads(meta_path.read_text())
    meta["offsets"] = "0" * 32  # ...and a fingerprint that no longer matches
    meta_path.write_text(json.dumps(meta))
    again = open_corpus(path, cache_dir=tmp_path, memory_limit=0).train
    assert again.data().tobytes() == b"".join(docs)
    clone = pickle.loads(pickle.dumps(again))
    assert clone._data is None
    assert clone.document(3) == docs[3]
    assert np.array_equal(clone.sample_windows(4, 20, np.random.default_rng(1))[0],
                          again.sample_windows(4, 20, np.random.default_rng(1))[0])  # fmt: skip
