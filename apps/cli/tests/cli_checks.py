"""Checks the CLI tests share: one-line errors, and files left exactly as they were."""

from __future__ import annotations

from pathlib import Path


def one_line_error(capsys, *fragments: str) -> str:
    """stderr so far is one `bitlab: error:` line holding every fragment; returns it."""
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("bitlab: error:"), err
    for fragment in fragments:
        assert fragment in err, err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes (compare two to show nothing changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
