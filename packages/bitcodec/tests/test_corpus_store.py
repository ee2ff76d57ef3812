"""CorpusWriter / open_corpus: round trips, split rule, dedup, resume, corrupt stores, windows."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr
from bitcodec.corpus_format import split_of
from bitcodec.corpus_reader import open_corpus
from bitcodec.corpus_writer import CorpusWriter, partial_path
from bitcodec.errors import BitcodecError


def _docs(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    # raw bytes (invalid UTF-8 included) of varied lengths, some long enough to span chunks
    return [
        rng.integers(0, 256, int(rng.integers(1, 700)), dtype=np.uint8).tobytes() for _ in range(n)
    ]


def _write(path: Path, docs: list[bytes], **kw) -> None:
    kw.setdefault("chunk_bytes", 1000)
    kw.setdefault("offsets_chunk", 16)
    with CorpusWriter(path, **kw) as w:
        for d in docs:
            w.add(d, source="mem")


def _expected_split(docs: list[bytes], fraction: float) -> dict[str, list[bytes]]:
    # independent of bitcodec: the documented rule, spelled out with hashlib
    out: dict[str, list[bytes]] = {"train": [], "val": []}
    for d in docs:
        value = int.from_bytes(hashlib.blake2b(d, digest_size=16).digest()[:8], "little")
        out["val" if value < fraction * 2**64 else "train"].append(d)
    return out


def test_round_trip_keeps_raw_bytes_and_splits_by_hash(tmp_path: Path) -> None:
    docs = _docs(400)
    _write(tmp_path / "c.zarr", docs, val_fraction=0.2)
    corpus = open_corpus(tmp_path / "c.zarr")
    want = _expected_split(docs, 0.2)
    assert 40 < len(want["val"]) < 120
    for name in ("train", "val"):
        split = corpus.split(name)
        assert split.num_docs == len(want[name])
        assert split.num_bytes == sum(map(len, want[name]))
        assert [split.document(i) for i in range(split.num_docs)] == want[name]
    assert corpus.num_docs == 400
    assert corpus.document(0) == want["train"][0]
    assert corpus.document(corpus.train.num_docs) == want["val"][0]
    assert all(split_of(d, 0.2) == "val" for d in want["val"])
    assert not partial_path(tmp_path / "c.zarr").exists()


def test_split_does_not_depend_on_order(tmp_path: Path) -> None:
    docs = _docs(200, seed=1)
    _write(tmp_path / "a.zarr", docs, val_fraction=0.3)
    _write(tmp_path / "b.zarr", docs[::-1], val_fraction=0.3)
    a, b = open_corpus(tmp_path / "a.zarr"), open_corpus(tmp_path / "b.zarr")
    val_a = {a.val.document(i) for i in range(a.val.num_docs)}
    val_b = {b.val.document(i) for i in range(b.val.num_docs)}
    assert val_a == val_b and val_a


def test_dedup_removes_exact_duplicates(tmp_path: Path) -> None:
    docs = _docs(50)
    with CorpusWriter(tmp_path / "c.zarr", dedup=True, val_fraction=0.0) as w:
        kept = [w.add(d) for d in docs + docs[:20] + [docs[3]]]
    assert kept[:50] == ["train"] * 50 and kept[50:] == [None] * 21
    corpus = open_corpus(tmp_path / "c.zarr")
    assert [corpus.document(i) for i in range(corpus.num_docs)] == docs
    assert corpus.attrs["stats"]["duplicates_removed"] == 21


def test_existing_out_and_leftover_partial_need_a_flag(tmp_path: Path) -> None:
    out = tmp_path / "c.zarr"
    _write(out, _docs(5), val_fraction=0.0)
    with pytest.raises(BitcodecError, match="already exists: pass overwrite=True"):
        CorpusWriter(out)
    _write(out, _docs(7, seed=2), overwrite=True, val_fraction=0.0)
    assert open_corpus(out).num_docs == 7
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    with pytest.raises(BitcodecError, match="not a corpus store"):
        CorpusWriter(mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "precious"
    w = CorpusWriter(tmp_path / "d.zarr")
    w.add(b"x")
    w.checkpoint()  # killed here: the partial store stays
    with pytest.raises(BitcodecError, match="pass resume=True"):
        CorpusWriter(tmp_path / "d.zarr")
    with pytest.raises(BitcodecError, match="unfinished"):
        open_corpus(tmp_path / "d.zarr")


def test_error_inside_the_block_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "c.zarr"
    with pytest.raises(RuntimeError), CorpusWriter(out) as w:
        w.add(b"hello")
        raise RuntimeError("boom")
    assert not out.exists() and not partial_path(out).exists()
    with pytest.raises(BitcodecError, match="no documents"), CorpusWriter(out):
        pass
    assert not out.exists() and not partial_path(out).exists()


@pytest.mark.parametrize("dedup", [False, True])
def test_resume_after_a_kill_gives_the_same_store(tmp_path: Path, dedup: bool) -> None:
    docs = _docs(300, seed=3)
    docs += docs[:30]  # duplicates after the checkpoint too
    _write(tmp_path / "ref.zarr", docs, val_fraction=0.1, dedup=dedup)

    out = tmp_path / "c.zarr"
    kw = {"val_fraction": 0.1, "dedup": dedup, "chunk_bytes": 1000, "offsets_chunk": 16}
    w = CorpusWriter(out, **kw)
    for i, d in enumerate(docs[:200]):
        w.add(d)
        if i == 120:
            w.checkpoint({"next": i + 1})
    # "killed": the writer is dropped with 79 documents past its last checkpoint written
    for arrays in w._splits.values():
        arrays.write_tails()
    del w
    w2 = CorpusWriter(out, resume=True, **kw)
    assert w2.resumed and w2.resume_state == {"next": 121}
    with w2:
        for d in docs[w2.resume_state["next"] :]:
            w2.add(d)
    ref, got = open_corpus(tmp_path / "ref.zarr"), open_corpus(out)
    for name in ("train", "val"):
        assert np.array_equal(ref.split(name).offsets, got.split(name).offsets)
        assert ref.split(name).data().tobytes() == got.split(name).data().tobytes()
    assert got.attrs["stats"]["duplicates_removed"] == ref.attrs["stats"]["duplicates_removed"]


def test_resume_refuses_other_settings(tmp_path: Path) -> None:
    w = CorpusWriter(tmp_path / "c.zarr", val_fraction=0.1)
    w.add(b"abc")
    w.checkpoint()
    with pytest.raises(BitcodecError, match="val_fraction"):
        CorpusWriter(tmp_path / "c.zarr", val_fraction=0.2, resume=True)


def _corrupt(store: Path, fn) -> None:
    meta_path = store / "zarr.json"
    meta = json.loads(meta_path.read_text())
    fn(meta)
    meta_path.write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda s: _corrupt(s, lambda m: m["attributes"].pop("format")), "not a bitlab corpus"),
        (lambda s: _corrupt(s, lambda m: m["attributes"].update(format_version=7)), "version 7"),
        (lambda s: shutil.rmtree(s / "val" / "offsets"), "val/offsets is missing"),
        (lambda s: shutil.rmtree(s / "val"), "'val' group is missing"),
        (
            lambda s: zarr.open_array(s / "train" / "bytes", mode="r+").resize((5,)),
            "offsets ends at",
        ),
        (lambda s: (s / "zarr.json").unlink(), "no zarr.json"),
    ],
)
def test_corrupt_or_foreign_store_is_named(tmp_path: Path, damage, message: str) -> None:
    store = tmp_path / "c.zarr"
    _write(store, _docs(30), val_fraction=0.3)
    damage(store)
    with pytest.raises(BitcodecError, match=message) as info:
        open_corpus(store)
    assert str(store) in str(info.value)


def test_missing_store_is_named(tmp_path: Path) -> None:
    with pytest.raises(BitcodecError, match="does not exist"):
        open_corpus(tmp_path / "nope.zarr")


def test_plain_zarr_reads_the_same_bytes(tmp_path: Path) -> None:
    docs = _docs(60)
    _write(tmp_path / "c.zarr", docs, val_fraction=0.0)
    root = zarr.open_group(str(tmp_path / "c.zarr"), mode="r")
    assert root.attrs["format"] == "bitlab-corpus"
    assert root["train/bytes"][:].tobytes() == b"".join(docs)
    assert root["train/offsets"][:].tolist() == np.cumsum([0] + [len(d) for d in docs]).tolist()
