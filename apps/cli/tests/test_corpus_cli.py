"""`bitlab prepare-corpus` and `bitlab corpus info` through the CLI."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from bitlab.main import invoke

SHARED_FILES = [
    "english_tinyshakespeare/input.txt",
    "multilingual_ud_pud/text/en.txt",
    "multilingual_ud_pud/text/zh.txt",
    "multilingual_ud_pud/text/ar.txt",
    "multilingual_ud_pud/text/hi.txt",
    "multilingual_ud_pud/text/th.txt",
    "multilingual_xlmt_tweets/val_text.txt",
    "cws_sighan2005_pku/pku_test.utf8",
]


def _lines(data: bytes) -> list[bytes]:
    # the documented rule for --split-on line, spelled out independently of bitcodec
    out = []
    for line in data.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.strip():
            out.append(line)
    return out


def _is_val(doc: bytes, fraction: float) -> bool:
    return (
        int.from_bytes(hashlib.blake2b(doc, digest_size=16).digest()[:8], "little")
        < fraction * 2**64
    )


def test_prepare_and_info_count_exactly(shared_data: Path, tmp_path: Path, capsys) -> None:
    inputs = [shared_data / f for f in SHARED_FILES]
    expected: list[bytes] = []
    for f in inputs:
        expected += _lines(f.read_bytes())
    # a gzip copy and a JSON-lines file made from shared data, too
    gz = tmp_path / "en_copy.txt.gz"
    gz.write_bytes(gzip.compress((shared_data / "multilingual_ud_pud/text/de.txt").read_bytes()))
    expected += _lines((shared_data / "multilingual_ud_pud/text/de.txt").read_bytes())
    sst = (shared_data / "cls_sst2/dev.tsv").read_text(encoding="utf-8").splitlines()[1:]
    jsonl = tmp_path / "sst.jsonl"
    jsonl.write_text("".join(json.dumps({"text": row.split("\t")[0]}) + "\n" for row in sst))
    expected += [row.split("\t")[0].encode() for row in sst if row.split("\t")[0].strip()]

    out = tmp_path / "mix.zarr"
    args = [*map(str, inputs), str(gz), str(jsonl), "--out", str(out), "--split-on", "line"]
    assert invoke(["prepare-corpus", *args, "--val-fraction", "0.05", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_docs"] == len(expected)

    assert invoke(["corpus", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["total_docs"] == len(expected)
    assert info["total_bytes"] == sum(map(len, expected))
    val = [d for d in expected if _is_val(d, 0.05)]
    assert info["splits"]["val"] == {"docs": len(val), "bytes": sum(map(len, val)),
                                     "mean_doc_bytes": sum(map(len, val)) / len(val)}  # fmt: skip
    assert info["format_version"] == 1 and info["sources_total"] == len(inputs) + 2
    assert [s["docs"] for s in info["sources"]][:1] == [len(_lines(inputs[0].read_bytes()))]

    from bitcodec import open_corpus

    corpus = open_corpus(out)
    assert corpus.train.data().tobytes() == b"".join(d for d in expected if not _is_val(d, 0.05))

    assert invoke(["corpus", "info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert f"{len(expected):,}" in shown and "sources" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["prepare-corpus", "{tmp}/missing.txt", "--out", "{tmp}/o.zarr"],
            "missing.txt' does not exist",
        ),
        (
            ["prepare-corpus", "{tmp}/bad.jsonl", "--out", "{tmp}/o.zarr"],
            "bad.jsonl:2: not valid JSON",
        ),
        (
            ["prepare-corpus", "{tmp}/good.jsonl", "--field", "body", "--out", "{tmp}/o.zarr"],
            "no field 'body'",
        ),
        (
            ["prepare-corpus", "{tmp}/good.jsonl", "--out", "{tmp}/exists"],
            "non-empty directory that is not a corpus store",
        ),
        (["prepare-corpus", "--out", "{tmp}/o.zarr"], "no inputs"),
        (
            ["prepare-corpus", "{tmp}/good.jsonl", "--out", "{tmp}/o.zarr", "--max-bytes", "lots"],
            "is not a size",
        ),
        (["corpus", "info", "{tmp}/exists"], "not a bitlab corpus store"),
        (["corpus", "info", "{tmp}/nothing.zarr"], "does not exist"),
    ],
)
def test_mistakes_are_one_line_exit_2(
    tmp_path: Path, capsys, args: list[str], message: str
) -> None:
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{"text": \n')
    (tmp_path / "good.jsonl").write_text('{"text": "a"}\n')
    (tmp_path / "exists").mkdir()
    (tmp_path / "exists" / "zarr.json").write_text(
        '{"zarr_format": 3, "node_type": "group", "attributes": {}}'
    )
    code = invoke([a.replace("{tmp}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.startswith("bitlab: error:") and err.count("\n") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "o.zarr").exists() and not (tmp_path / "o.zarr.partial").exists()


def test_builtin_pydocs_small(tmp_path: Path, capsys) -> None:
    out = tmp_path / "py.zarr"
    assert (
        invoke(
            [
                "prepare-corpus",
                "--builtin",
                "pydocs",
                "--max-bytes",
                "50KB",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert 0 < summary["total_bytes"] <= 50_000 and summary["capped_at_max_bytes"]
