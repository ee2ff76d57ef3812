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
                "--val-fraction",  # ten documents or so: 0.01 would leave val empty
                "0",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert 0 < summary["total_bytes"] <= 50_000 and summary["capped_at_max_bytes"]


def test_cli_phrases_library_settings_as_flags() -> None:
    from bitcodec.errors import BitcodecError
    from bitlab.commands.corpus import cli_message

    exc = BitcodecError(
        "input 'x' looks binary",
        "pass binary='skip' to leave it out or binary='keep' to take its raw bytes",
    )
    assert cli_message(exc) == (
        "input 'x' looks binary: pass --binary skip to leave it out or --binary keep to take "
        "its raw bytes"
    )
    assert cli_message(BitcodecError("p", "pass resume=True or overwrite=True")) == (
        "p: pass --resume or --overwrite"
    )
    assert cli_message(BitcodecError("p", "fix it, or pass strict_utf8=False")) == (
        "p: fix it, or drop --strict-utf8"
    )
    assert cli_message(BitcodecError("p", "pass field= an index, or header=True")) == (
        "p: pass --field an index, or --header"
    )
    assert cli_message(
        BitcodecError("unfinished", "rerun that prepare-corpus with resume=True")
    ) == ("unfinished: rerun that `bitlab prepare-corpus` with --resume")


def _hub_parquet(root: Path) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    f = root / "datasets--org--name" / "data" / "train-00000-of-00001.parquet"
    f.parent.mkdir(parents=True)
    pq.write_table(pa.table({"text": ["hub row one", "hub row two"], "label": [0, 1]}), f)
    return f


def test_parquet_binary_files_and_rerun_through_the_cli(tmp_path: Path, capsys) -> None:
    f = _hub_parquet(tmp_path)
    out = tmp_path / "hub.zarr"
    no_val = ["--val-fraction", "0"]  # two documents: 0.01 would leave val empty, an error
    assert invoke(["prepare-corpus", str(f), "--field", "text", "--out", str(out), *no_val,
                   "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["total_docs"] == 2
    # a NUL-holding file named on the command line: one line naming it and the flag
    bad = tmp_path / "hostile.txt"
    bad.write_bytes(b"looks like text \x00 but")
    assert invoke(["prepare-corpus", str(bad), "--out", str(tmp_path / "b.zarr")]) == 2
    err = capsys.readouterr().err
    assert "hostile.txt' looks binary" in err and "--binary skip" in err and "--binary keep" in err
    assert "binary=" not in err and err.count("\n") == 1
    # found in a directory: skipped, and the summary names it with its size
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "ok.txt").write_text("fine text")
    (folder / "hostile.txt").write_bytes(bad.read_bytes())
    assert invoke(["prepare-corpus", str(folder), "--out", str(tmp_path / "c.zarr"), *no_val]) == 0
    shown = capsys.readouterr().out
    assert "1 input files look binary and were skipped" in " ".join(shown.split())
    assert f"{folder / 'hostile.txt'} (21 bytes)" in shown
    assert invoke(["corpus", "info", str(tmp_path / "c.zarr")]) == 0
    assert "hostile.txt (21 bytes)" in capsys.readouterr().out
    # --resume on the complete store: nothing changes; other inputs: named, exit 2
    args = ["prepare-corpus", str(f), "--field", "text", "--out", str(out), *no_val, "--resume"]
    assert invoke(args) == 0
    assert "nothing changed" in " ".join(capsys.readouterr().out.split())
    assert invoke([*args[:-1], "--resume", "--field", "label"]) == 2
    err = capsys.readouterr().err
    assert "field was 'text', now 'label'" in err and "--overwrite" in err
