"""Training computes what it computed before the packages were restructured: 20-step runs of
``bitlab train`` with the seed-curriculum config and of every baseline kind give the loss
sequences recorded by tests/record_loss_sequences.py on the code before the move (CPU)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from tests.record_loss_sequences import DATA, RUNS, STEPS, losses, write_corpus

RECORDED = json.loads(DATA.read_text())


@pytest.fixture(scope="module")
def corpus():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.zarr"
        write_corpus(path)
        yield path


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_loss_sequence_is_unchanged(name: str, corpus: Path, tmp_path: Path) -> None:
    got = losses(name, corpus, tmp_path / name)
    assert len(got) == STEPS == len(RECORDED[name])
    # Same seed, same arithmetic: equal up to float reordering across CPUs and thread counts.
    assert got == pytest.approx(RECORDED[name], rel=1e-5, abs=1e-6)
