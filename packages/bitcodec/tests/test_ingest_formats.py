"""prepare_corpus on the files researchers have: Parquet, Arrow, save_to_disk folders, CSV/TSV,
JSON lines named .json.gz, fsspec URLs; every file made here, with pyarrow when installed."""

from __future__ import annotations

import builtins
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import zstandard
from bitcodec.corpus_reader import open_corpus
from bitcodec.corpus_writer import partial_path
from bitcodec.errors import BitcodecError, MissingExtraError
from bitcodec.ingest import PrepareOptions, prepare_corpus

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROWS = ["first row", "zweite Zeile é", "  ", None, "第三行 世界", "", "last\nwith a newline"]
KEPT = [r.encode() for r in ROWS if r is not None and r.strip()]


def _docs(store: Path) -> list[bytes]:
    c = open_corpus(store)
    return [c.document(i) for i in range(c.num_docs)]


def _run(inputs, out: Path, **kw) -> dict:
    resume = kw.pop("resume", False)
    kw.setdefault("val_fraction", 0.0)
    return prepare_corpus([str(i) for i in inputs], out, PrepareOptions(**kw), resume=resume)


def _table() -> pa.Table:
    n = len(ROWS)
    return pa.table(
        {
            "id": list(range(n)),
            "text": ROWS,
            "meta": [{"body": f"body {i}", "lang": "en"} for i in range(n)],
        }
    )


def test_parquet_column_nested_field_and_missing_column(tmp_path: Path) -> None:
    f = tmp_path / "data" / "train-00000-of-00001.parquet"
    f.parent.mkdir()
    pq.write_table(_table(), f, row_group_size=3)  # several row groups
    r = _run([f], tmp_path / "a.zarr", field="text")
    assert _docs(tmp_path / "a.zarr") == KEPT
    assert r["skipped_empty"] == 3  # "  ", None and ""
    _run([f], tmp_path / "b.zarr", field="meta.body")
    assert _docs(tmp_path / "b.zarr") == [f"body {i}".encode() for i in range(len(ROWS))]
    with pytest.raises(BitcodecError, match=r"no column 'body' \(its columns: id, text, meta,"):
        _run([f], tmp_path / "c.zarr", field="body")
    with pytest.raises(BitcodecError, match="column 'id' holds int64, not text"):
        _run([f], tmp_path / "c.zarr", field="id")
    assert not (tmp_path / "c.zarr").exists() and not partial_path(tmp_path / "c.zarr").exists()


@pytest.mark.parametrize("form", ["file", "stream"])
def test_arrow_ipc_file_and_stream_with_large_and_dictionary_strings(
    tmp_path: Path, form: str
) -> None:
    t = _table()
    t = t.append_column("big", t["text"].cast(pa.large_string()))
    t = t.append_column("cat", t["text"].dictionary_encode())
    f = tmp_path / "x.arrow"
    opener = pa.ipc.new_file if form == "file" else pa.ipc.new_stream
    with pa.OSFile(str(f), "wb") as sink, opener(sink, t.schema) as w:
        for batch in t.to_batches(max_chunksize=2):
            w.write_batch(batch)
    for field in ("text", "big", "cat"):
        out = tmp_path / f"{field}.zarr"
        _run([f], out, field=field)
        assert _docs(out) == KEPT


def _save_to_disk(folder: Path, tables: list[pa.Table]) -> None:
    """A folder as datasets' Dataset.save_to_disk writes it: Arrow *stream* shards named
    data-0000k-of-0000n.arrow, state.json listing them in order, dataset_info.json."""
    folder.mkdir(parents=True)
    names = [f"data-{k:05d}-of-{len(tables):05d}.arrow" for k in range(len(tables))]
    for name, t in zip(names, tables, strict=True):
        with pa.OSFile(str(folder / name), "wb") as sink, pa.ipc.new_stream(sink, t.schema) as w:
            w.write_table(t)
    state = {"_data_files": [{"filename": n} for n in names], "_fingerprint": "f00d",
             "_format_columns": None, "_format_kwargs": {}, "_format_type": None,
             "_output_all_columns": False, "_split": "train"}  # fmt: skip
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {}}))


def test_save_to_disk_folder_and_dataset_dict(tmp_path: Path) -> None:
    shards = [pa.table({"text": [f"shard {k} row {i}" for i in range(4)]}) for k in range(3)]
    ds = tmp_path / "ds"
    _save_to_disk(ds, shards)
    r = _run([ds], tmp_path / "a.zarr")
    assert _docs(tmp_path / "a.zarr") == [
        f"shard {k} row {i}".encode() for k in range(3) for i in range(4)
    ]
    assert r["input_files"] == 3  # the shards; state.json and dataset_info.json are no documents
    # a DatasetDict: dataset_dict.json names the splits, each a save_to_disk folder
    dd = tmp_path / "dd"
    _save_to_disk(dd / "train", shards[:2])
    _save_to_disk(dd / "test", shards[2:])
    (dd / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "notes.txt").write_text("a note")
    shutil.copytree(dd, outer / "dd")  # found inside a folder: still read as a dataset
    _run([outer], tmp_path / "b.zarr")
    assert _docs(tmp_path / "b.zarr") == [
        b"a note",
        *(f"shard {k} row {i}".encode() for k in range(3) for i in range(4)),
    ]
    (ds / "data-00001-of-00003.arrow").unlink()
    with pytest.raises(BitcodecError, match=r"lacks data-00001-of-00003\.arrow"):
        _run([ds], tmp_path / "c.zarr")


def test_missing_pyarrow_names_the_extra(tmp_path: Path, monkeypatch) -> None:
    f = tmp_path / "x.parquet"
    pq.write_table(_table(), f)
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(
        MissingExtraError, match=r"needs pyarrow.*pip install 'bitcodec\[arrow\]'"
    ) as e:
        _run([f], tmp_path / "c.zarr")
    assert e.value.extra == "arrow"
    assert not (tmp_path / "c.zarr").exists() and not partial_path(tmp_path / "c.zarr").exists()


def test_csv_and_tsv_columns_headers_and_quoting(tmp_path: Path) -> None:
    csv_file = tmp_path / "a.csv"
    csv_file.write_bytes(
        b'id,text,label\r\n1,"plain",0\r\n2,"with, comma and ""quotes""",1\r\n'
        b'3,"two\nlines",0\r\n4,  ,1\r\n5,caf\xc3\xa9 \xff raw,0\r\n'
    )
    _run([csv_file], tmp_path / "a.zarr")  # field "text" by header name
    assert _docs(tmp_path / "a.zarr") == [
        b"plain",
        b'with, comma and "quotes"',
        b"two\nlines",
        b"caf\xc3\xa9 \xff raw",
    ]
    tsv = tmp_path / "dev.tsv"
    tsv.write_bytes(b'sentence\tlabel\nit \'s "great"\t1\n\nbad\t0\n  \t1\n')
    r = _run([tsv], tmp_path / "b.zarr", field="sentence")
    assert _docs(tmp_path / "b.zarr") == [b'it \'s "great"', b"bad"]
    assert r["skipped_empty"] == 1
    _run([tsv], tmp_path / "c.zarr", field="1")  # by index: the header row is still skipped
    assert _docs(tmp_path / "c.zarr") == [b"1", b"0", b"1"]
    noheader = tmp_path / "n.tsv"
    noheader.write_bytes(b"a\tx\nb\ty\n")
    _run([noheader], tmp_path / "d.zarr", field="1", header=False)
    assert _docs(tmp_path / "d.zarr") == [b"x", b"y"]
    with pytest.raises(
        BitcodecError, match=r"no column 'text' \(its columns: 'sentence', 'label'\)"
    ):
        _run([tsv], tmp_path / "e.zarr")
    short = tmp_path / "s.tsv"
    short.write_bytes(b"text\tlabel\nok\t1\n\nnolabel\n")
    with pytest.raises(BitcodecError, match=r"s.tsv:4: the row has 1 column, no column 1"):
        _run([short], tmp_path / "e.zarr", field="label")


def test_tsv_pieces_give_the_same_documents(tmp_path: Path) -> None:
    rows = [f"row {i} " + "w" * (i % 37) for i in range(3000)]
    f = tmp_path / "big.tsv"
    f.write_text("id\ttext\n" + "".join(f"{i}\t{r}\n" for i, r in enumerate(rows)))
    _run([f], tmp_path / "a.zarr", piece_bytes=5000, block_bytes=777)
    assert _docs(tmp_path / "a.zarr") == [r.encode() for r in rows]


def test_json_gz_holding_json_lines_and_format_override(tmp_path: Path) -> None:
    lines = [{"text": f"c4 doc {i}", "url": "x", "timestamp": "t"} for i in range(50)]
    f = tmp_path / "c4-train.00000-of-01024.json.gz"
    f.write_bytes(gzip.compress("".join(json.dumps(x) + "\n" for x in lines).encode()))
    _run([f], tmp_path / "a.zarr")  # detected from the content
    assert _docs(tmp_path / "a.zarr") == [f"c4 doc {i}".encode() for i in range(50)]
    _run([f], tmp_path / "b.zarr", format="jsonl")
    assert _docs(tmp_path / "b.zarr") == _docs(tmp_path / "a.zarr")
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"text": "a single\nobject"}, indent=2))  # pretty: stays JSON
    _run([one], tmp_path / "c.zarr")
    assert _docs(tmp_path / "c.zarr") == [b"a single\nobject"]
    with pytest.raises(BitcodecError, match="unknown format 'yaml'"):
        PrepareOptions(format="yaml")
    text = tmp_path / "notes.jsonl"
    text.write_text("not json at all\n")
    _run([text], tmp_path / "d.zarr", format="text")
    assert _docs(tmp_path / "d.zarr") == [b"not json at all\n"]


def test_streamed_compressed_input_is_cut_into_parts_like_the_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    paras = [b" ".join(rng.choice([b"a", b"bb", b"ccc"], size=int(rng.integers(1, 60))))
             for _ in range(2000)]  # fmt: skip
    data = b"\n\n".join(paras) + b"\n"
    f = tmp_path / "x.txt.zst"
    f.write_bytes(zstandard.ZstdCompressor().compress(data))
    plain = tmp_path / "x.txt"
    plain.write_bytes(data)
    _run([plain], tmp_path / "ref.zarr", split_on="blank-line")
    r = _run([f], tmp_path / "a.zarr", split_on="blank-line", block_bytes=1000, part_bytes=20_000)
    assert _docs(tmp_path / "a.zarr") == _docs(tmp_path / "ref.zarr") == paras
    assert r["total_docs"] == 2000


def test_fsspec_urls_for_inputs(tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/h13-test/in/a.jsonl", b'{"text": "from memory"}\n')
    fs.pipe("/h13-test/in/sub/b.txt", b"memory text")
    try:
        _run(["memory://h13-test/in"], tmp_path / "a.zarr")
        assert _docs(tmp_path / "a.zarr") == [b"from memory", b"memory text"]
        with pytest.raises(BitcodecError, match="memory://h13-test/nothing' does not exist"):
            _run(["memory://h13-test/nothing"], tmp_path / "b.zarr")
    finally:
        fs.rm("/h13-test", recursive=True)
    local = tmp_path / "c.csv"
    local.write_text("text\nvia file url\n")
    _run([f"file://{local}"], tmp_path / "c.zarr", workers=2, parallel_min_bytes=0)
    assert _docs(tmp_path / "c.zarr") == [b"via file url"]
