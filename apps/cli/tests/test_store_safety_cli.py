"""Through the CLI: a damaged store, an unwritable --out and a split without documents are one
line and exit 2, the user's files stay byte-identical, and a suggested fix works when followed;
prepare-corpus over thousands of files logs a summary, not the file list."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from bitlab.main import invoke


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("bitlab: error: ") and err.count("\n") == 1, err
    return err.strip()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A store of a few chunks per split (small --chunk-bytes), made through the CLI."""
    folder = tmp_path_factory.mktemp("store")
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    text = "\n\n".join(" ".join(rng.choice(words, size=40)) for _ in range(300))
    (folder / "in.txt").write_text(text + "\n")
    out = folder / "c.zarr"
    argv = ["prepare-corpus", str(folder / "in.txt"), "--split-on", "blank-line",
            "--val-fraction", "0.2", "--chunk-bytes", "4096", "--out", str(out), "--json"]  # fmt: skip
    assert invoke(argv) == 0
    return out


def test_info_names_a_deleted_chunk(store: Path, tmp_path: Path, capsys) -> None:
    copy = tmp_path / "copy.zarr"
    shutil.copytree(store, copy)
    (copy / "train" / "bytes" / "c" / "2").unlink()
    before = _files(tmp_path)
    capsys.readouterr()
    assert invoke(["corpus", "info", str(copy)]) == 2
    assert _one_error_line(capsys) == (
        f"bitlab: error: corpus store '{copy}' is damaged (chunk 2 of train/bytes, file "
        "train/bytes/c/2, is missing): restore it from the original or re-create the store with "
        "`bitlab prepare-corpus`"
    )
    assert _files(tmp_path) == before
    assert invoke(["corpus", "info", str(store), "--json"]) == 0  # the original is intact


def test_info_verify_names_a_changed_chunk(store: Path, tmp_path: Path, capsys) -> None:
    copy = tmp_path / "copy.zarr"
    shutil.copytree(store, copy)
    chunk = copy / "val" / "bytes" / "c" / "1"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x10
    chunk.write_bytes(bytes(data))
    before = _files(tmp_path)
    capsys.readouterr()
    assert invoke(["corpus", "info", str(copy)]) == 0  # present: a plain info reads no text
    capsys.readouterr()
    assert invoke(["corpus", "info", str(copy), "--verify"]) == 2
    line = _one_error_line(capsys)
    assert "(chunk 1 of val/bytes, file val/bytes/c/1, cannot be decoded: " in line
    assert "checksum" in line
    assert _files(tmp_path) == before
    assert invoke(["corpus", "info", str(store), "--verify", "--json"]) == 0
    assert '"verified_chunks": ' in capsys.readouterr().out


def test_prepare_corpus_refuses_an_unwritable_out_before_reading(tmp_path: Path, capsys) -> None:
    (tmp_path / "in.txt").write_text("some text\n")
    before = _files(tmp_path)
    out = tmp_path / "in.txt" / "c.zarr"
    # the input does not exist either: the --out line comes first, before any input is looked at
    assert invoke(["prepare-corpus", str(tmp_path / "nope.txt"), "--out", str(out)]) == 2
    assert _one_error_line(capsys) == (
        f"bitlab: error: --out '{out}' cannot be created: '{tmp_path / 'in.txt'}' is a file, "
        "not a folder: choose a path in a folder you can write to"
    )
    assert _files(tmp_path) == before


def test_an_empty_val_split_is_refused_and_the_advice_works(tmp_path: Path, capsys) -> None:
    (tmp_path / "in.txt").write_text("\n\n".join(f"note number {i}" for i in range(10)) + "\n")
    before = _files(tmp_path)
    out = tmp_path / "c.zarr"
    argv = ["prepare-corpus", str(tmp_path / "in.txt"), "--split-on", "blank-line",
            "--out", str(out)]  # fmt: skip
    assert invoke(argv) == 2
    line = _one_error_line(capsys)
    assert line.startswith(
        f"bitlab: error: the val split of '{out}' would be empty: --val-fraction 0.01 sends none "
        "of its 10 documents to val: pass --val-fraction "
    )
    assert _files(tmp_path) == before  # no store, no .partial
    fraction = re.search(r"pass --val-fraction ([0-9.e-]+)", line).group(1)
    assert invoke([*argv, "--val-fraction", fraction, "--json"]) == 0
    capsys.readouterr()
    assert invoke(["corpus", "info", str(out), "--json"]) == 0
    splits = json.loads(capsys.readouterr().out)["splits"]
    assert splits["val"]["docs"] >= 1 and splits["train"]["docs"] >= 1


def test_eval_on_an_empty_val_split_says_how_to_get_one(tmp_path: Path, capsys) -> None:
    import torch
    from bitcodec.corpus_writer import CorpusWriter
    from bitswin import BitSwinConfig, BitSwinModel

    with CorpusWriter(tmp_path / "c.zarr", val_fraction=0.0) as writer:
        for i in range(30):
            writer.add(f"the cat sat on mat number {i}.".encode())
    torch.manual_seed(0)
    config = BitSwinConfig.tiny(depths=(1, 1, 1, 1), widths=(16, 32, 32, 32), heads=(2, 2, 2, 2))
    BitSwinModel(config).save_pretrained(tmp_path / "run" / "model")
    capsys.readouterr()
    code = invoke(["eval", str(tmp_path / "run"), "--corpus", str(tmp_path / "c.zarr"),
                   "--windows", "2", "--seq-len", "48"])  # fmt: skip
    assert code == 2
    line = _one_error_line(capsys)
    assert "split 'val' of corpus store" in line and "is empty (no documents)" in line
    assert "shorter windows" not in line


def test_thousands_of_input_files_log_one_short_line(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(2000):
        (folder / f"document-with-a-long-name-{i:05d}.txt").write_text(f"text of file {i}\n")
    out = tmp_path / "c.zarr"
    argv = ["prepare-corpus", str(folder), "--out", str(out), "--val-fraction", "0.1",
            "--workers", "1", "--json"]  # fmt: skip
    assert invoke(argv) == 0
    err = capsys.readouterr().err
    assert max(len(line) for line in err.splitlines()) < 300
    assert "2,000 documents" in err and "from 2,000 inputs" in err
    capsys.readouterr()
    assert invoke(["corpus", "info", str(out), "--json"]) == 0
    assert '"sources_total": 2000' in capsys.readouterr().out  # the list is in the manifest
