"""Atomic writes: the file appears whole or not at all, with the mode a plain open() gives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bittrain.fileio import write_atomic, write_json_atomic, write_text_atomic


def test_written_files_get_the_umask_mode_not_mkstemps_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "hello")
        write_json_atomic(tmp_path / "sub" / "b.json", {"x": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "sub" / "b.json").stat().st_mode & 0o777 == 0o644
    assert json.loads((tmp_path / "sub" / "b.json").read_text()) == {"x": 1}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "c.txt"
    target.write_text("old")

    def fail(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]
