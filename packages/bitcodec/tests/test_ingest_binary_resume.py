"""Binary inputs are never silent; reruns of a finished store are safe."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bitcodec.corpus_reader import open_corpus
from bitcodec.corpus_writer import partial_path
from bitcodec.errors import BinaryInputError, BitcodecError
from bitcodec.ingest import PrepareOptions, prepare_corpus

NUL_DOC = b"text then \x00 a NUL byte \xff\xfe"


def _docs(store: Path) -> list[bytes]:
    c = open_corpus(store)
    return [c.document(i) for i in range(c.num_docs)]


def _run(inputs, out: Path, resume: bool = False, **kw) -> dict:
    kw.setdefault("val_fraction", 0.0)
    return prepare_corpus([str(i) for i in inputs], out, PrepareOptions(**kw), resume=resume)


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.txt").write_bytes(b"alpha")
    (d / "b.dat").write_bytes(NUL_DOC)
    (d / "c.txt").write_bytes(b"gamma")
    (d / "d.po").write_bytes(b"\x00\x01\x02" * 100)
    return d


def test_named_binary_file_is_an_error_naming_it_and_the_setting(tmp_path: Path) -> None:
    f = tmp_path / "hostile.txt"
    f.write_bytes(NUL_DOC)
    with pytest.raises(
        BinaryInputError, match=r"input '.*hostile.txt' looks binary.*binary='skip'.*binary='keep'"
    ) as e:
        _run([f], tmp_path / "c.zarr")
    assert e.value.path == str(f) and e.value.size == len(NUL_DOC)
    assert not (tmp_path / "c.zarr").exists() and not partial_path(tmp_path / "c.zarr").exists()
    with pytest.raises(BinaryInputError):  # found ones too, with binary="error"
        _run([_folder(tmp_path)], tmp_path / "c.zarr", binary="error")


def test_found_binary_files_are_skipped_named_and_in_the_manifest(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    r = _run([d], tmp_path / "c.zarr")
    assert _docs(tmp_path / "c.zarr") == [b"alpha", b"gamma"]
    assert r["skipped_binary_files"] == [
        {"path": str(d / "b.dat"), "size": len(NUL_DOC)},
        {"path": str(d / "d.po"), "size": 300},
    ]
    attrs = open_corpus(tmp_path / "c.zarr").attrs
    assert attrs["skipped_total"] == 2
    assert [(s["path"], s["size"], s["reason"]) for s in attrs["skipped"]] == [
        (str(d / "b.dat"), len(NUL_DOC), "binary"), (str(d / "d.po"), 300, "binary")
    ]  # fmt: skip
    assert [s["path"] for s in attrs["sources"]] == [str(d / "a.txt"), str(d / "c.txt")]
    # binary="skip" skips a named one as well, and says so
    f = d / "b.dat"
    with pytest.raises(BitcodecError, match=r"hold no documents.*1 binary files skipped: .*b.dat"):
        _run([f], tmp_path / "e.zarr", binary="skip")


def test_keep_takes_raw_bytes_exactly(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    _run([d], tmp_path / "c.zarr", binary="keep", split_on="line")
    assert _docs(tmp_path / "c.zarr") == [b"alpha", NUL_DOC, b"gamma", b"\x00\x01\x02" * 100]


def test_resume_on_a_complete_store_changes_nothing_or_names_what_differs(
    tmp_path: Path,
) -> None:
    d = _folder(tmp_path)
    out = tmp_path / "c.zarr"
    first = _run([d], out, split_on="line")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    again = _run([d], out, resume=True, split_on="line")
    assert again["unchanged"] and again["resumed"]
    assert (again["total_docs"], again["total_bytes"], again["skipped_binary_files"]) == (
        first["total_docs"], first["total_bytes"], first["skipped_binary_files"]
    )  # fmt: skip
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # nothing written
    with pytest.raises(BitcodecError, match="split_on was 'line', now 'file'"):
        _run([d], out, resume=True)
    (d / "c.txt").write_bytes(b"gamma, longer now")
    with pytest.raises(
        BitcodecError, match=r"input files changed \(changed: .*c.txt \(size 5 -> 17\)"
    ):
        _run([d], out, resume=True, split_on="line")
    (d / "e.txt").write_bytes(b"new")
    with pytest.raises(BitcodecError, match=r"new: .*e.txt"):
        _run([d], out, resume=True, split_on="line")
    assert _docs(out) == [b"alpha", b"gamma"]  # the store is untouched


def test_resume_from_a_checkpoint_inside_a_big_streamed_file(tmp_path: Path, monkeypatch) -> None:
    import gzip

    lines = [json.dumps({"text": f"doc {i} " + "x" * (i % 50)}) for i in range(4000)]
    f = tmp_path / "big.jsonl.gz"
    f.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    small = {"part_bytes": 10_000, "block_bytes": 3000, "checkpoint_every_s": 0.0}
    ref = tmp_path / "ref.zarr"
    _run([f], ref, **small)
    from bitcodec import ingest

    calls = {"n": 0}
    real_add = ingest._Run.add

    def add_then_stop(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt  # killed after 6 parts were added and checkpointed
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(ingest._Run, "add", add_then_stop)
    out = tmp_path / "out.zarr"
    with pytest.raises(KeyboardInterrupt):
        _run([f], out, **small)
    monkeypatch.undo()
    progress = json.loads((partial_path(out) / ".bitlab-progress.json").read_text())
    assert progress["state"]["tasks_done"] == 0 and progress["state"]["parts_done"] == 6
    r = _run([f], out, resume=True, **small)
    assert r["resumed"] and not r["unchanged"]
    assert _docs(out) == _docs(ref) == [json.loads(x)["text"].encode() for x in lines]
    assert not os.path.exists(partial_path(out))
