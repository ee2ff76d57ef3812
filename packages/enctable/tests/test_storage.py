"""save/load: open format, exact round trip, atomic writes, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from enctable import AdaptiveEncodingTable, EnctableError
from enctable.priors import text_batches, whitespace_starts
from enctable_testdata import generated_english


@pytest.fixture(scope="module")
def table() -> AdaptiveEncodingTable:
    text = generated_english(6000, seed=5) + "词语，词语。\n".encode() * 30
    t = AdaptiveEncodingTable(levels=3, max_size=200, boundary_threshold=0.5)
    for x, s in text_batches(text, whitespace_starts(np.frombuffer(text, np.uint8)), 128, 16):
        t.update_tables(x, s)
    return t


def test_save_load_round_trip(table: AdaptiveEncodingTable, tmp_path: Path) -> None:
    table.save(tmp_path / "t")
    meta = json.loads((tmp_path / "t" / "table.json").read_text())
    assert meta["format"] == "enctable" and meta["version"] == 1
    assert meta["config"]["max_size"] == 200
    loaded = AdaptiveEncodingTable.load(tmp_path / "t")
    assert loaded.level_sizes() == table.level_sizes()
    assert loaded.config == table.config
    assert (loaded.step, loaded.updates) == (table.step, table.updates)
    for a, b in zip(table.tables + table.sketches, loaded.tables + loaded.sketches, strict=True):
        for name in ("keys", "concat", "offsets"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    sample = generated_english(500, seed=9)
    for k in (1, 2, 3):
        np.testing.assert_array_equal(loaded.encode(sample, k), table.encode(sample, k))
    # the loaded table keeps growing like the original
    x = np.frombuffer(sample[:256], np.uint8).reshape(2, 128)
    s = whitespace_starts(x.reshape(-1)).reshape(2, 128).astype(float)
    table_copy = AdaptiveEncodingTable.load(tmp_path / "t")
    table_copy.update_tables(x, s)
    loaded.update_tables(x, s)
    np.testing.assert_array_equal(table_copy.tables[1].keys, loaded.tables[1].keys)


def test_npz_holds_no_objects(table: AdaptiveEncodingTable, tmp_path: Path) -> None:
    table.save(tmp_path / "t")
    with np.load(tmp_path / "t" / "arrays.npz", allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)


def test_overwrite_replaces_whole_table(table: AdaptiveEncodingTable, tmp_path: Path) -> None:
    small = AdaptiveEncodingTable(levels=2, max_size=5)
    small.save(tmp_path / "t")
    table.save(tmp_path / "t")
    assert AdaptiveEncodingTable.load(tmp_path / "t").levels == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]  # no temp dirs left


def test_refuses_to_overwrite_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    with pytest.raises(EnctableError, match="not an enctable table"):
        AdaptiveEncodingTable(levels=1, max_size=5).save(tmp_path / "d")
    assert (tmp_path / "d" / "notes.txt").read_text() == "mine"


def test_load_errors_name_the_path_and_fix(table: AdaptiveEncodingTable, tmp_path: Path) -> None:
    with pytest.raises(EnctableError, match="does not exist"):
        AdaptiveEncodingTable.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EnctableError, match=r"empty.*has no table.json"):
        AdaptiveEncodingTable.load(tmp_path / "empty")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "table.json").write_text('{"format": "other"}')
    with pytest.raises(EnctableError, match="not an enctable table"):
        AdaptiveEncodingTable.load(tmp_path / "foreign")
    table.save(tmp_path / "v")
    meta = json.loads((tmp_path / "v" / "table.json").read_text())
    meta["version"] = 99
    (tmp_path / "v" / "table.json").write_text(json.dumps(meta))
    with pytest.raises(EnctableError, match=r"version 99.*rebuild"):
        AdaptiveEncodingTable.load(tmp_path / "v")
    table.save(tmp_path / "c")
    (tmp_path / "c" / "arrays.npz").write_bytes(b"garbage")
    with pytest.raises(EnctableError, match="corrupt"):
        AdaptiveEncodingTable.load(tmp_path / "c")
    table.save(tmp_path / "j")
    (tmp_path / "j" / "table.json").write_text("{not json")
    with pytest.raises(EnctableError, match=r"unreadable table\.json"):
        AdaptiveEncodingTable.load(tmp_path / "j")


def test_import_does_not_pull_in_torch() -> None:
    code = "import sys, enctable, enctable.table, enctable.storage; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
