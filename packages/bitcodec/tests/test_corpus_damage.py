"""Damaged stores are named, never read as zeros; the window cache never mixes two stores.

Every test damages a hand-made store the way a disk, a sync tool or a person does (a chunk file
deleted, emptied, cut short, a bit flipped, a store copied with ``cp -r``) and checks the one
error line and that reading changed none of the store's files.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import fsspec
import numpy as np
import pytest
import zarr
from bitcodec.corpus_reader import open_corpus
from bitcodec.corpus_writer import CorpusWriter
from bitcodec.errors import BitcodecError

CHUNK = 1000


def _docs(n: int = 120, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta"]
    return [b" ".join(rng.choice(words, size=int(rng.integers(5, 60)))) for _ in range(n)]


def _store(path: Path, docs: list[bytes], val_fraction: float = 0.2) -> Path:
    with CorpusWriter(path, val_fraction=val_fraction, chunk_bytes=CHUNK, offsets_chunk=16) as w:
        for d in docs:
            w.add(d)
    return path


def _files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` -> its SHA-256 (what "byte-identical afterwards" compares)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _flip(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return _store(tmp_path / "c.zarr", _docs())


def test_every_chunk_is_a_file_with_a_checksum(store: Path) -> None:
    for split in ("train", "val"):
        for name in ("bytes", "offsets"):
            arr = zarr.open_array(store / split / name, mode="r")
            stored = sorted((store / split / name / "c").iterdir(), key=lambda p: int(p.name))
            assert len(stored) == arr.nchunks  # the tail chunk too, zeros or not
            assert arr.metadata.codecs[-1].checksum is True


@pytest.mark.parametrize(
    ("array", "chunk", "damage", "said"),
    [
        ("train/bytes", 2, lambda p: p.unlink(), "is missing"),
        ("train/bytes", -1, lambda p: p.unlink(), "is missing"),  # the last, partial chunk
        ("val/bytes", 0, lambda p: p.write_bytes(b""), "is an empty file"),
        ("train/offsets", 0, lambda p: p.unlink(), "is missing"),
    ],
)
def test_a_missing_or_empty_chunk_is_named_when_the_store_is_opened(
    store: Path, array: str, chunk: int, damage, said: str
) -> None:
    chunks = sorted((store / array / "c").iterdir(), key=lambda p: int(p.name))
    target = chunks[chunk]
    damage(target)
    before = _files(store)
    with pytest.raises(BitcodecError) as info:
        open_corpus(store)
    message = str(info.value)
    assert "\n" not in message
    assert f"corpus store '{store}' is damaged" in message
    assert f"chunk {target.name} of {array}, file {array}/c/{target.name}, {said}" in message
    assert message.endswith(
        "restore it from the original or re-create the store with prepare-corpus"
    )
    assert _files(store) == before


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: _flip(p),  # a changed byte: caught by the zstd checksum
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # cut short
        lambda p: p.write_bytes(b"not zstd at all"),
    ],
)
@pytest.mark.parametrize("memory_limit", [1 << 30, 0])  # in RAM, and through the disk cache
def test_a_chunk_that_does_not_decode_is_named_when_read(
    store: Path, tmp_path: Path, damage, memory_limit: int
) -> None:
    damage(store / "train" / "bytes" / "c" / "3")
    before = _files(store)
    corpus = open_corpus(store, cache_dir=tmp_path / "cache", memory_limit=memory_limit)
    expected = "chunk 3 of train/bytes, file train/bytes/c/3, cannot be decoded"
    with pytest.raises(BitcodecError, match=expected):
        corpus.train.data()
    with pytest.raises(BitcodecError, match=expected):
        corpus.verify()
    doc = int(np.searchsorted(corpus.train.offsets, 3 * CHUNK, side="right")) - 1  # in chunk 3
    with pytest.raises(BitcodecError, match=expected):
        open_corpus(store).train.document(doc)  # a document read straight from zarr
    assert not list((tmp_path / "cache").rglob("*.u8"))  # a damaged split never becomes a cache
    assert _files(store) == before


def test_verify_counts_every_chunk_of_an_intact_store(store: Path) -> None:
    corpus = open_corpus(store)
    seen: list[int] = []
    n = corpus.verify(seen.append)
    assert n == len(seen) == sum(s.num_chunks for s in corpus.chunks()) > 4


def test_a_damaged_copy_never_poisons_the_original(store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    want = open_corpus(store, cache_dir=cache, memory_limit=0).train.data().tobytes()
    copy = tmp_path / "copy.zarr"
    shutil.copytree(store, copy)  # cp -r: the same store_id
    _flip(copy / "train" / "bytes" / "c" / "1")
    with pytest.raises(BitcodecError, match="chunk 1 of train/bytes"):
        open_corpus(copy, cache_dir=cache, memory_limit=0).train.data()
    (copy / "train" / "bytes" / "c" / "4").unlink()
    with pytest.raises(BitcodecError, match="chunk 4 of train/bytes, file train/bytes/c/4, is"):
        open_corpus(copy, cache_dir=cache, memory_limit=0)
    again = open_corpus(store, cache_dir=cache, memory_limit=0).train
    assert again.data().tobytes() == want
    assert zarr.open_array(store / "train" / "bytes", mode="r")[:].tobytes() == want


def test_an_intact_copy_reads_through_its_own_cache(store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    original = open_corpus(store, cache_dir=cache, memory_limit=0).train
    copy = tmp_path / "copy.zarr"
    shutil.copytree(store, copy)
    copied = open_corpus(copy, cache_dir=cache, memory_limit=0).train
    assert copied.data().tobytes() == original.data().tobytes()
    assert len(list(cache.rglob("train.u8"))) == 2  # keyed by place: one cache per store


def test_a_chunk_changed_after_caching_is_caught_not_served_from_the_cache(
    store: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    open_corpus(store, cache_dir=cache, memory_limit=0).train.data()
    _flip(store / "train" / "bytes" / "c" / "2")  # a new size or modification time
    with pytest.raises(BitcodecError, match="chunk 2 of train/bytes"):
        open_corpus(store, cache_dir=cache, memory_limit=0).train.data()


def test_an_empty_split_of_an_older_store_still_opens(tmp_path: Path) -> None:
    # zarr leaves out a chunk that holds only the fill value, and stores written before every
    # chunk was stored have no val/offsets chunk when val is empty: that is not damage.
    store = _store(tmp_path / "c.zarr", _docs(20), val_fraction=0.0)
    (store / "val" / "offsets" / "c" / "0").unlink()
    corpus = open_corpus(store)
    assert corpus.val.num_docs == 0 and corpus.train.num_docs == 20


def test_a_store_behind_a_url_is_checked_the_same_way(store: Path) -> None:
    fs = fsspec.filesystem("memory")
    url = f"memory://damage-test-{store.parent.name}/c.zarr"
    fs.put(str(store), url, recursive=True)
    try:
        assert open_corpus(url).verify() > 4
        fs.rm(f"{url}/val/bytes/c/0")
        with pytest.raises(
            BitcodecError, match="chunk 0 of val/bytes, file val/bytes/c/0, is missing"
        ):
            open_corpus(url)
    finally:
        fs.rm(url, recursive=True)
