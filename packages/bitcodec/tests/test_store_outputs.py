"""What a store's writer refuses, and when: an output it cannot write (before any input is
read), a split left without documents (with a fraction that works), and its one log line."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from bitcodec.corpus_format import split_of, val_threshold
from bitcodec.corpus_reader import open_corpus
from bitcodec.corpus_writer import CorpusWriter, partial_path
from bitcodec.errors import BitcodecError
from bitcodec.ingest import PrepareOptions, prepare_corpus
from bitcodec.writable import check_writable


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _text(folder: Path, docs: int) -> Path:
    path = folder / "in.txt"
    path.write_text("\n\n".join(f"paragraph {i} of the small corpus" for i in range(docs)) + "\n")
    return path


# -- an output that cannot be written -----------------------------------------------------------


def test_a_path_through_a_file_is_refused_before_any_input_is_read(tmp_path: Path) -> None:
    source = _text(tmp_path, 3)
    before = _files(tmp_path)
    out = tmp_path / "in.txt" / "c.zarr"
    with pytest.raises(BitcodecError) as info:
        prepare_corpus([str(tmp_path / "missing-input.txt")], out, PrepareOptions())
    assert str(info.value) == (
        f"corpus store '{out}' cannot be created: '{source}' is a file, not a folder: "
        "choose a path in a folder you can write to"
    )  # not "input does not exist": the output is checked first
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.EACCES, "Permission denied"), (errno.EROFS, "a read-only file system")],
)
def test_a_folder_that_takes_no_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # as a read-only mount or chmod would
    out = tmp_path / "sub" / "c.zarr"
    with pytest.raises(BitcodecError) as info:
        CorpusWriter(out)
    assert str(info.value) == (
        f"corpus store '{out}' cannot be written: no new file can be made in '{tmp_path}' "
        f"({reason}): choose a path in a folder you can write to"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(BitcodecError, match="cannot be written: no new file can be made"):
            check_writable(locked / "c.zarr", beside=True)
    finally:
        locked.chmod(0o755)


def test_writable_places_pass_and_leave_nothing(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    before = _files(tmp_path)
    check_writable(tmp_path / "run")  # an existing folder, written into
    check_writable(tmp_path / "run" / "notes.txt")  # an existing file, replaced
    check_writable(tmp_path / "new" / "deeper" / "c.zarr", beside=True)  # folders made later
    assert _files(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# -- a split without documents ------------------------------------------------------------------


def test_an_empty_val_split_is_an_error_whose_fraction_works(tmp_path: Path) -> None:
    source = _text(tmp_path, 12)
    before = _files(tmp_path)
    out = tmp_path / "c.zarr"
    with pytest.raises(BitcodecError) as info:
        prepare_corpus([str(source)], out, PrepareOptions(split_on="blank-line"))
    message = str(info.value)
    assert message.startswith(
        f"the val split of '{out}' would be empty: val_fraction=0.01 sends none of its 12 "
        "documents to val: pass val_fraction="
    )
    assert not out.exists() and not partial_path(out).exists()
    assert _files(tmp_path) == before
    suggested = float(re.search(r"pass val_fraction=([0-9.e-]+)", message).group(1))
    result = prepare_corpus(
        [str(source)], out, PrepareOptions(split_on="blank-line", val_fraction=suggested)
    )
    assert result["docs"]["val"] >= 1 and result["docs"]["train"] >= 1
    # "about the smallest": a tenth of it gives val nothing
    docs = [f"paragraph {i} of the small corpus".encode() for i in range(12)]
    assert all(split_of(d, suggested / 10) == "train" for d in docs)


def test_an_empty_train_split_names_a_smaller_fraction(tmp_path: Path) -> None:
    docs = [f"doc {i}".encode() for i in range(6)]
    out = tmp_path / "c.zarr"
    with (
        pytest.raises(BitcodecError, match=r"the train split of .* would be empty") as info,
        CorpusWriter(out, val_fraction=0.999) as w,
    ):
        for d in docs:
            w.add(d)
    suggested = float(re.search(r"pass val_fraction=([0-9.e-]+)", str(info.value)).group(1))
    splits = {split_of(d, suggested) for d in docs}
    assert splits == {"train", "val"}
    assert not out.exists() and not partial_path(out).exists()


def test_one_document_asks_for_more_and_a_zero_fraction_is_allowed(tmp_path: Path) -> None:
    with (
        pytest.raises(
            BitcodecError, match="one document cannot fill two splits: add documents, or cut"
        ),
        CorpusWriter(tmp_path / "a.zarr") as w,
    ):
        w.add(b"all alone")
    with CorpusWriter(tmp_path / "b.zarr", val_fraction=0.0) as w:  # asked for: no val split
        w.add(b"all alone")
    assert open_corpus(tmp_path / "b.zarr").val.num_docs == 0


def test_the_suggestion_survives_a_resume(tmp_path: Path) -> None:
    out = tmp_path / "c.zarr"
    docs = [f"resumed doc {i}".encode() for i in range(8)]
    w = CorpusWriter(out)
    for d in docs[:4]:
        w.add(d)
    w.checkpoint()  # killed here
    w2 = CorpusWriter(out, resume=True)
    for d in docs[4:]:
        w2.add(d)
    with pytest.raises(BitcodecError, match="pass val_fraction=") as info:
        w2.close()
    suggested = float(re.search(r"val_fraction=([0-9.e-]+) \(", str(info.value)).group(1))
    values = [
        int.from_bytes(hashlib.blake2b(d, digest_size=16).digest()[:8], "little") for d in docs
    ]
    assert min(values) < val_threshold(suggested) <= max(values)


# -- the log -------------------------------------------------------------------------------------


def test_the_log_line_stays_short_for_thousands_of_inputs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "c.zarr"
    sources = [
        {"path": f"/data/folder/input-{i:05d}.txt", "size": 10, "mtime_ns": 1} for i in range(5000)
    ]
    rng = np.random.default_rng(0)
    with (
        caplog.at_level(logging.INFO, logger="bitcodec"),
        CorpusWriter(out, val_fraction=0.0, sources=sources) as w,
    ):
        for i in range(5000):
            w.add(rng.bytes(20), source=sources[i]["path"])
    lines = [r.getMessage() for r in caplog.records if r.name == "bitcodec.corpus_writer"]
    assert lines == [
        f"wrote {out}: 5,000 documents (train 5,000 / val 0), 100,000 bytes, from 5,000 inputs; "
        "0 duplicates removed"
    ]
    assert len(open_corpus(out).sources) == 5000  # the details stay in the manifest
