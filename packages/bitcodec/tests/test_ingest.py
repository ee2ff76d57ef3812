"""prepare_corpus: input formats, pieces, workers, bad input."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path

import numpy as np
import pytest
import zstandard
from bitcodec.corpus_reader import open_corpus
from bitcodec.corpus_writer import partial_path
from bitcodec.errors import BitcodecError
from bitcodec.formats import split_name
from bitcodec.ingest import PrepareOptions, prepare_corpus
from bitcodec.ingest_split import ReadOptions, text_documents
from bitcodec.readers import read_all
from bitcodec.sources import Task, expand_inputs, make_tasks


def _all_docs(store: Path) -> list[bytes]:
    c = open_corpus(store)
    return [c.document(i) for i in range(c.num_docs)]


def _run(inputs, out: Path, **kw) -> dict:
    overwrite = kw.pop("overwrite", False)
    stdin = kw.pop("stdin_data", None)
    kw.setdefault("val_fraction", 0.0)
    return prepare_corpus(
        [str(i) for i in inputs], out, PrepareOptions(**kw), overwrite=overwrite, stdin_data=stdin
    )


def test_format_from_names() -> None:
    assert split_name("a/x.jsonl.zst") == ("jsonl", "zst")
    assert split_name("x.JSON.gz") == ("json", "gz")
    assert split_name("x.md") == ("text", None)
    assert split_name("x.txt.bz2") == ("text", "bz2")
    assert split_name("d/train-00000-of-00001.parquet") == ("parquet", None)
    assert split_name("x.tsv") == ("tsv", None) and split_name("x.csv.gz") == ("csv", "gz")


@pytest.mark.parametrize(
    ("mode", "data", "docs"),
    [
        ("file", b"a\n\nb\n", [b"a\n\nb\n"]),
        ("file", b" \n\t\n", []),
        ("line", b"one\r\ntwo\n\n  \nthree", [b"one", b"two", b"three"]),
        ("blank-line", b"p1 l1\np1 l2\n\n \t\n  p2\r\n\r\np3\n", [b"p1 l1\np1 l2", b"  p2", b"p3"]),
        ("blank-line", b"\n\n  \nx\n \n", [b"x"]),
    ],
)
def test_text_document_rules(mode: str, data: bytes, docs: list[bytes]) -> None:
    assert text_documents(data, mode)[0] == docs


@pytest.mark.parametrize("mode", ["line", "blank-line"])
def test_pieces_give_the_same_documents_as_whole_files(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(0)
    parts = []
    for _ in range(400):
        parts.append(b"w" * int(rng.integers(0, 40)))
        parts.append([b"\n", b"\n\n", b"\r\n\r\n", b"\n \n\n", b"\n\n\n"][int(rng.integers(0, 5))])
    data = b"".join(parts)
    f = tmp_path / "x.txt"
    f.write_bytes(data)
    files = expand_inputs([str(f)])
    opts = ReadOptions(split_on=mode, block_bytes=1 << 20)
    whole = read_all(Task(files[0]), opts)
    for piece in (7, 50, 333):
        tasks = make_tasks(files, mode, piece_bytes=piece)
        assert len(tasks) > 1
        results = [
            read_all(t, ReadOptions(split_on=mode, block_bytes=piece // 3 + 1)) for t in tasks
        ]
        assert b"".join(r.data for r in results) == whole.data
        assert np.concatenate([r.lengths for r in results]).tolist() == whole.lengths.tolist()


def test_formats_compressions_dirs_globs_and_stdin(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha \xff raw\n")  # invalid UTF-8 kept raw
    (src / "sub" / "b.md").write_bytes(b"# beta\n")
    (src / ".hidden.txt").write_bytes(b"never read")
    lines = b'{"text": "j1"}\n\n{"text": "j2 \\u00e9", "id": 2}\n{"meta": {"body": "x"}, "text": "j3"}\n'
    (src / "c.jsonl.gz").write_bytes(gzip.compress(lines))
    (src / "d.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(lines.replace(b"j", b"z"))
    )
    (src / "e.json.xz").write_bytes(lzma.compress(json.dumps([{"text": "x1"}, "x2"]).encode()))
    (src / "f.txt.bz2").write_bytes(bz2.compress(b"bzipped"))
    (src / "g.bin").write_bytes(b"\x00\x01binary")  # found in a directory: skipped
    other = tmp_path / "other"
    other.mkdir()
    (other / "q1.txt").write_bytes(b"q1")
    (other / "q2.txt").write_bytes(b"q2")
    result = _run([src, str(other / "q*.txt"), "-"], tmp_path / "c.zarr", stdin_data=b"from stdin")
    assert _all_docs(tmp_path / "c.zarr") == [
        b"alpha \xff raw\n", b"j1", "j2 é".encode(), b"j3", b"z1", "z2 é".encode(), b"z3",
        b"x1", b"x2", b"bzipped", b"# beta\n", b"q1", b"q2", b"from stdin",
    ]  # fmt: skip
    assert result["skipped_binary_files"] == [{"path": str(src / "g.bin"), "size": 8}]
    assert result["input_files"] == 10


def test_dotted_field_and_dedup_and_max_bytes(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_text("".join(json.dumps({"m": {"body": f"doc {i % 5}"}}) + "\n" for i in range(20)))
    r = _run([f], tmp_path / "a.zarr", field="m.body", dedup=True)
    assert r["duplicates_removed"] == 15
    assert _all_docs(tmp_path / "a.zarr") == [f"doc {i}".encode() for i in range(5)]
    r = _run([f], tmp_path / "b.zarr", field="m.body", max_bytes=12)
    assert r["capped_at_max_bytes"] and _all_docs(tmp_path / "b.zarr") == [b"doc 0", b"doc 1"]


def test_workers_give_the_same_store_as_one_process(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(6):
        (tmp_path / f"f{i}.txt").write_bytes(
            b"\n".join(rng.integers(97, 123, 3000, dtype=np.uint8).tobytes() for _ in range(20))
        )
    inputs = sorted(tmp_path.glob("f*.txt"))
    _run(
        inputs,
        tmp_path / "one.zarr",
        split_on="line",
        workers=1,
        val_fraction=0.2,
        piece_bytes=10_000,
    )
    _run(inputs, tmp_path / "two.zarr", split_on="line", workers=2, val_fraction=0.2,
         piece_bytes=10_000, parallel_min_bytes=0)  # fmt: skip
    a, b = open_corpus(tmp_path / "one.zarr"), open_corpus(tmp_path / "two.zarr")
    assert a.num_docs == 120
    for name in ("train", "val"):
        assert a.split(name).data().tobytes() == b.split(name).data().tobytes()
        assert np.array_equal(a.split(name).offsets, b.split(name).offsets)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "kw", "message"),
    [
        (lambda d: [d / "missing.txt"], {}, r"input '.*missing.txt' does not exist"),
        (lambda d: [d / "nomatch*.txt"], {}, "matches no files"),
        (
            lambda d: [_write(d / "bad.jsonl", b'{"text": "ok"}\n{"text": oops}\n')],
            {},
            r"bad.jsonl:2: not valid JSON",
        ),
        (
            lambda d: [_write(d / "nf.jsonl", b'{"body": "x"}\n')],
            {},
            r"nf.jsonl:1: no field 'text' .*keys: body.*field=",
        ),
        (
            lambda d: [_write(d / "num.jsonl", b'{"text": 3}\n')],
            {},
            r"num.jsonl:1: field 'text' is a int",
        ),
        (
            lambda d: [_write(d / "u.txt", b"good\nbad \xc3\x28")],
            {"strict_utf8": True},
            r"u.txt: invalid UTF-8 at byte offset 9",
        ),
        (
            lambda d: [_write(d / "empty.txt", b""), _write(d / "ws.txt", b"  \n")],
            {},
            "hold no documents",
        ),
        (lambda d: [_write(d / "z.txt.gz", b"not gzip")], {}, r"z.txt.gz: cannot decompress"),
        (
            lambda d: [_write(d / "s.txt", b"x")],
            {"split_on": "words"},
            "unknown split_on 'words'",
        ),
    ],
)
def test_bad_input_is_one_clear_error_and_leaves_nothing(tmp_path: Path, make, kw, message) -> None:
    out = tmp_path / "c.zarr"
    with pytest.raises(BitcodecError, match=message):
        _run(make(tmp_path), out, **kw)
    assert not out.exists() and not partial_path(out).exists()


def test_json_error_line_is_counted_in_later_pieces(tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"line {i}"}) for i in range(300)]
    lines[250] = "{broken"
    f = _write(tmp_path / "big.jsonl", ("\n".join(lines) + "\n").encode())
    with pytest.raises(BitcodecError, match=r"big.jsonl:251: not valid JSON"):
        _run([f], tmp_path / "c.zarr", piece_bytes=1000)


def test_existing_out_needs_overwrite(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.txt", b"hello")
    _run([f], tmp_path / "c.zarr")
    with pytest.raises(BitcodecError, match="already exists"):
        _run([f], tmp_path / "c.zarr")
    _run([_write(tmp_path / "b.txt", b"again")], tmp_path / "c.zarr", overwrite=True)
    assert _all_docs(tmp_path / "c.zarr") == [b"again"]


def test_resume_refuses_changed_inputs(tmp_path: Path, monkeypatch) -> None:
    f = _write(tmp_path / "a.txt", b"one\ntwo\n")
    out = tmp_path / "c.zarr"
    from bitcodec import ingest

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # an interruption after the first checkpoint

    monkeypatch.setattr(ingest._Run, "add", boom)
    with pytest.raises(KeyboardInterrupt):
        _run([f], out, split_on="line")
    monkeypatch.undo()
    assert partial_path(out).is_dir()  # kept for --resume
    _write(tmp_path / "a.txt", b"one\ntwo\nthree\n")
    with pytest.raises(
        BitcodecError, match=r"input files changed \(changed: .*a.txt \(size 8 -> 14\)"
    ):
        prepare_corpus(
            [str(f)], out, PrepareOptions(split_on="line", val_fraction=0.0), resume=True
        )
    with pytest.raises(BitcodecError, match="split_on was 'line', now 'file'"):
        prepare_corpus([str(f)], out, PrepareOptions(val_fraction=0.0), resume=True)
    prepare_corpus([str(f)], out, PrepareOptions(split_on="line", val_fraction=0.0), overwrite=True)
    assert _all_docs(out) == [b"one", b"two", b"three"]


def test_compression_found_by_magic_number_without_a_suffix(tmp_path: Path) -> None:
    f = _write(tmp_path / "noext", gzip.compress(b"hidden gzip text"))
    g = _write(tmp_path / "data.bin", zstandard.ZstdCompressor().compress(b'{"text": "z"}\n'))
    _run([f], tmp_path / "a.zarr")
    _run([g], tmp_path / "b.zarr", format="jsonl")
    assert _all_docs(tmp_path / "a.zarr") == [b"hidden gzip text"]
    assert _all_docs(tmp_path / "b.zarr") == [b"z"]


def test_an_error_in_a_reader_process_is_the_same_one_line(tmp_path: Path) -> None:
    good = _write(tmp_path / "a.jsonl", b"".join(b'{"text": "ok %d"}\n' % i for i in range(500)))
    bad = _write(tmp_path / "b.jsonl.gz", gzip.compress(b'{"text": "fine"}\n{"text": oops}\n'))
    out = tmp_path / "c.zarr"
    with pytest.raises(BitcodecError, match=r"b.jsonl.gz:2: not valid JSON"):
        _run([good, bad], out, workers=2, parallel_min_bytes=0)
    assert not out.exists() and not partial_path(out).exists()
    fixed = _write(tmp_path / "b.jsonl.gz", gzip.compress(b'{"text": "fine"}\n' * 300))
    # many small parts through the readers, each reader at most 2 parts ahead: order kept
    _run([good, fixed], out, workers=2, parallel_min_bytes=0, part_bytes=500, block_bytes=300)
    assert _all_docs(out) == [b"ok %d" % i for i in range(500)] + [b"fine"] * 300
