"""bittokens: the ids are the contract, and the module imports nothing at all."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import bittokens


def test_ids_are_the_contract() -> None:
    ids = (bittokens.BIT0, bittokens.BIT1, bittokens.MASK_ID, bittokens.PAD_ID)
    assert ids == (0, 1, 2, 3)
    assert set(ids) == set(range(bittokens.BIT_VOCAB_SIZE))


def test_module_imports_nothing() -> None:
    tree = ast.parse(Path(bittokens.__file__).read_text(encoding="utf-8"))
    assert [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))] == []


def test_import_loads_no_third_party_module() -> None:
    code = (
        "import sys; before = set(sys.modules); import bittokens; "
        "new = sorted(set(sys.modules) - before - {'bittokens'}); "
        "sys.exit(f'bittokens imported {new}' if new else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
