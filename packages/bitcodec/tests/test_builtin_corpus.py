"""The built-in `pydocs` corpus: docstrings and bundled docs of the running environment."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
from bitcodec.builtin_corpus import builtin_files, module_docstrings
from bitcodec.corpus_reader import open_corpus
from bitcodec.errors import BitcodecError
from bitcodec.ingest import PrepareOptions, prepare_corpus

SOURCE = b'''"""Module doc."""
import os

def f():
    """Function doc, with \\u00e9."""
    return 1

class C:
    """Class doc."""

    async def m(self):
        """Method doc."""

    def n(self):
        x = 1  # no docstring
'''


def test_module_docstrings_in_source_order() -> None:
    assert (
        module_docstrings(SOURCE)
        == "Module doc.\n\nFunction doc, with é.\n\nClass doc.\n\nMethod doc.".encode()
    )
    assert module_docstrings(b"def broken(:\n") == b""
    assert module_docstrings(b"x = 1\n") == b""


def test_files_come_from_the_environment_in_a_fixed_order() -> None:
    files = builtin_files("pydocs")
    assert files == builtin_files("pydocs")
    stdlib = sysconfig.get_paths()["stdlib"]
    assert files[0].path.startswith(stdlib)
    kinds = {f.kind for f in files}
    assert kinds == {"pydoc", "doctext"}
    assert not any("/tests/" in f.path or "__pycache__" in f.path for f in files)
    with pytest.raises(BitcodecError, match="unknown built-in corpus 'nope'"):
        builtin_files("nope")


def test_prepare_builtin_with_a_cap_is_deterministic(tmp_path: Path) -> None:
    opts = PrepareOptions(builtin="pydocs", max_bytes=150_000, val_fraction=0.0)
    a = prepare_corpus([], tmp_path / "a.zarr", opts)
    b = prepare_corpus([], tmp_path / "b.zarr", opts)
    assert (b["total_docs"], b["total_bytes"]) == (a["total_docs"], a["total_bytes"])
    assert a["capped_at_max_bytes"]
    assert 100_000 < a["total_bytes"] <= 150_000 and a["total_docs"] > 5
    ca, cb = open_corpus(tmp_path / "a.zarr"), open_corpus(tmp_path / "b.zarr")
    assert ca.train.data().tobytes() == cb.train.data().tobytes()
    text = ca.train.data().tobytes().decode("utf-8", "replace")
    assert text.count(" the ") > 50  # prose, not code
    with pytest.raises(BitcodecError, match="a built-in corpus takes no inputs"):
        prepare_corpus(["x.txt"], tmp_path / "c.zarr", opts)
