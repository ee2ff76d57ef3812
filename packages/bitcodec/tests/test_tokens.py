"""bitcodec.tokens constants, and that importing bitcodec does not pull in torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from bitcodec import tokens


def test_token_ids_are_the_contract() -> None:
    assert (tokens.BIT0, tokens.BIT1, tokens.MASK_ID, tokens.PAD_ID) == (0, 1, 2, 3)
    assert tokens.BIT_VOCAB_SIZE == 4
    ids = {tokens.BIT0, tokens.BIT1, tokens.MASK_ID, tokens.PAD_ID}
    assert ids == set(range(tokens.BIT_VOCAB_SIZE))


def test_tokens_module_imports_only_bittokens() -> None:
    # The ids live in bittokens (no dependencies); bitcodec.tokens re-exports them.
    tree = ast.parse(Path(tokens.__file__).read_text(encoding="utf-8"))
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [(type(n).__name__, getattr(n, "module", None)) for n in imports] == [
        ("ImportFrom", "bittokens")
    ]


def test_import_bitcodec_does_not_import_torch() -> None:
    code = (
        "import sys, bitcodec; assert 'torch' not in sys.modules, 'torch was imported'; "
        "bitcodec.bits_to_text(bitcodec.text_to_bits('ok')); "
        "bitcodec.class_change_starts(b'ok'); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
