"""`bitlab table build|inspect|encode|decode` end to end on a tiny random bitswin model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bitlab.main import invoke

TEXT = (
    "The quick brown fox jumps over the lazy dog. The dog sleeps and the fox runs.\n"
    "中文的词语和句子，中文的词语。\n"
)


@pytest.fixture(scope="module")
def run_and_corpus(tmp_path_factory) -> tuple[Path, Path]:
    import torch
    from bitcodec.corpus_writer import CorpusWriter
    from bitswin import BitSwinConfig, BitSwinModel

    base = tmp_path_factory.mktemp("table_cli")
    torch.manual_seed(0)
    config = BitSwinConfig(depths=(1, 1), widths=(8, 16), heads=(2, 2), windows_bits=(8, 32))
    BitSwinModel(config).save_pretrained(base / "run" / "model")
    with CorpusWriter(base / "corpus.zarr", val_fraction=0.2) as writer:
        for i in range(60):
            writer.add((f"{i}: " + TEXT * (1 + i % 3)).encode(), source="test")
    return base / "run", base / "corpus.zarr"


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_build_inspect_encode_decode(run_and_corpus, tmp_path: Path, capsys) -> None:
    run, corpus = run_and_corpus
    out = tmp_path / "table"
    argv = [
        "table",
        "build",
        str(run),
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        "--batches",
        "3",
        "--batch-size",
        "4",
        "--seq-len",
        "64",
        "--max-size",
        "200",
        "--target-unit-bytes",
        "4",
        "--json",
    ]
    assert invoke(argv) == 0
    built = _json(capsys)
    assert built["windows"] == 12 and built["attention"] is True
    assert [lv["level"] for lv in built["levels"]] == [1, 2, 3, 4]
    assert all(lv["decode_fidelity"] == 1.0 for lv in built["levels"])
    assert (out / "table.json").is_file()
    assert sum(lv["size"] for lv in built["levels"]) > 0

    plot = tmp_path / "rank.png"
    assert invoke(["table", "inspect", str(out), "--top", "5", "--plot", str(plot), "--json"]) == 0
    inspected = _json(capsys)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(inspected["levels"]) == 4
    assert all(len(lv["top"]) <= 5 for lv in inspected["levels"])
    assert invoke(["table", "inspect", str(out), "--top", "3"]) == 0
    assert "level 2" in capsys.readouterr().out

    text = "The quick brown fox 中文"
    assert invoke(["table", "encode", str(out), "--level", "3", "--text", text, "--json"]) == 0
    enc = _json(capsys)
    assert "".join(enc["pieces"]) == text
    assert invoke(["table", "encode", str(out), "--level", "3", "--text", text]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].replace("|", "") == text
    codes = [str(c) for c in enc["codes"]]
    assert invoke(["table", "decode", str(out), "--level", "3", *codes, "--json"]) == 0
    assert _json(capsys)["text"] == text


def test_build_without_attention_and_overwrite(run_and_corpus, tmp_path: Path, capsys) -> None:
    run, corpus = run_and_corpus
    out = tmp_path / "t"
    argv = [
        "table",
        "build",
        str(run),
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        "--levels",
        "2",
        "--batches",
        "2",
        "--batch-size",
        "2",
        "--seq-len",
        "32",
        "--no-attention",
        "--split",
        "val",
    ]
    assert invoke(argv) == 0
    assert invoke(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert invoke([*argv, "--overwrite"]) == 0


def test_user_mistakes_exit_2(run_and_corpus, tmp_path: Path, capsys) -> None:
    _run, corpus = run_and_corpus
    assert (
        invoke(
            [
                "table",
                "build",
                str(tmp_path / "nope"),
                "--corpus",
                str(corpus),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert invoke(["table", "inspect", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    from enctable import AdaptiveEncodingTable

    AdaptiveEncodingTable(levels=2, max_size=10).save(tmp_path / "empty")
    assert invoke(["table", "encode", str(tmp_path / "empty"), "--level", "5", "--text", "x"]) == 2
    assert "level 5 does not exist" in capsys.readouterr().err
    assert invoke(["table", "decode", str(tmp_path / "empty"), "--level", "2", "97", "9999"]) == 2
    assert "code 9999" in capsys.readouterr().err
    assert invoke(["table", "decode", str(tmp_path / "empty"), "--level", "1", "104", "105"]) == 0
    assert capsys.readouterr().out.strip() == "hi"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (
            "notes.txt/table",
            "--out '{tmp}/notes.txt/table' cannot be created: '{tmp}/notes.txt' is a file, not a "
            "folder: choose a path in a folder you can write to",
        ),
        (
            "mine",
            "'{tmp}/mine' exists and is not an enctable table: choose another path or empty it",
        ),
    ],
)
def test_a_bad_out_is_one_line_before_any_work(
    run_and_corpus, tmp_path: Path, capsys, out: str, message: str
) -> None:
    """Checked before the model is loaded or a window is read, not at the save minutes later;
    with --overwrite too, a folder that is not a table is never replaced."""
    run, _corpus = run_and_corpus  # a store that does not exist: it is never reached
    (tmp_path / "notes.txt").write_text("my notes")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "data.csv").write_text("a,b\n1,2\n")
    before = _files(tmp_path)
    argv = ["table", "build", str(run), "--corpus", str(tmp_path / "no-such-store.zarr"),
            "--out", str(tmp_path / out), "--overwrite"]  # fmt: skip
    assert invoke(argv) == 2
    err = capsys.readouterr().err
    assert err == f"bitlab: error: {message.replace('{tmp}', str(tmp_path))}\n"
    assert _files(tmp_path) == before


def test_show_bytes_escapes_controls_and_invalid_utf8() -> None:
    from bitlab.commands.table import show_bytes

    assert show_bytes(b"the \n") == "the \\n"
    assert show_bytes("中".encode()[:2]) == "\\xe4\\xb8"
    assert show_bytes(b"a\\b\x01") == "a\\\\b\\x01"
