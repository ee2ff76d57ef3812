"""A torch.compile'd model gives the training loss the eager one gives, to 1e-5, on a fixed
batch of each kind (built as `bitlab train` builds it: the task's loss with its masks and, for
bitswin, its no-grad units pass; static unit shapes, as a compiled run uses)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from bitcodec.corpus_reader import open_corpus
from bittrain.bench.cases import BenchCase, PreparedCase, prepare
from bittrain.fixtures import MICRO_BASELINES, MICRO_MODEL, write_sample_corpus
from bittrain.trainer.step import micro_inputs

# Inductor's CPU backend writes C++ and builds it: without a compiler torch.compile cannot run.
NO_COMPILER = shutil.which("g++") is None and shutil.which("c++") is None
CASES = {
    "bitswin": BenchCase("bitswin", "bitswin", "tiny", (*MICRO_MODEL, "model.static_units=true")),
    "byte": BenchCase("byte", "byte", "tiny", MICRO_BASELINES["byte"]),
}


BATCH, SEQ = 4, 128


def _loss(p: PreparedCase, first: int = 0, backward: bool = False) -> tuple[float, float]:
    """(loss, bit patterns per byte) of the batch of windows first..first+BATCH-1, at a step
    late in the run (the curriculum state of the last step) that moves with ``first`` as the
    trainer's step does."""
    ids = np.arange(first, first + BATCH, dtype=np.int64)
    windows, starts, index = micro_inputs(p.split, ids, SEQ, p.config.seed, BATCH, p.device)
    step = p.config.max_steps - 100 + first // BATCH
    out = p.task.loss(p.model, windows, starts, step=step, sample_index=index)
    if backward:
        out.loss.backward()
    return float(out.loss.detach()), float(out.metrics.get("bit_patterns_per_byte", 0.0))


@dataclass(frozen=True)
class Compiled:
    """A prepared case whose model is compiled, with the eager loss of the fixed batch."""

    p: PreparedCase
    eager: float

    def loss(self, first: int = 0, backward: bool = False) -> tuple[float, float]:
        return _loss(self.p, first, backward)


def _compiled(kind: str, tmp_path: Path) -> Compiled:
    corpus_path = write_sample_corpus(tmp_path / "c.zarr", n_docs=60)
    p = prepare(CASES[kind], open_corpus(corpus_path), corpus_path, tmp_path / "run",
                torch.device("cpu"), batch_size=BATCH, seq_len=SEQ)  # fmt: skip
    eager = _loss(p)[0]
    p.plain.compile()  # what `compile = true` does (bittrain.trainer.setup.wrap)
    return Compiled(p, eager)


@pytest.fixture(scope="module")
def compiled_bitswin(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    return _compiled("bitswin", tmp_path_factory.mktemp("bitswin"))


@pytest.mark.slow
@pytest.mark.skipif(NO_COMPILER, reason="no C++ compiler: inductor cannot build CPU kernels")
@pytest.mark.parametrize("kind", sorted(CASES))
def test_compiled_and_eager_training_loss_agree(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    case = request.getfixturevalue("compiled_bitswin") if kind == "bitswin" else None
    case = case or _compiled(kind, tmp_path)
    compiled = case.loss()[0]
    assert np.isfinite(case.eager)
    assert compiled == pytest.approx(case.eager, rel=1e-5, abs=1e-5)


@pytest.mark.slow
@pytest.mark.skipif(NO_COMPILER, reason="no C++ compiler: inductor cannot build CPU kernels")
def test_compiled_bitswin_does_not_recompile_per_batch(compiled_bitswin: Compiled) -> None:
    """Batches differ in how many distinct bit patterns the bit stage runs on; once one batch
    has differed from the first (its size is then compiled as dynamic) no batch may compile
    again (a count the stages hand on as a Python int is a guard on its value; the bit
    patterns' count is a tensor for that reason)."""
    counters = torch._dynamo.utils.counters["stats"]
    seen = {compiled_bitswin.loss(0, backward=True)[1]}
    first = BATCH
    while len(seen) < 2 and first < 10 * BATCH:  # until a batch's pattern count differs
        seen.add(compiled_bitswin.loss(first, backward=True)[1])
        first += BATCH
    graphs = counters["unique_graphs"]
    later = {compiled_bitswin.loss(first + k * BATCH, backward=True)[1] for k in range(3)}
    assert len(seen) == 2 and len(later - seen) >= 1  # the batches do differ
    assert counters["unique_graphs"] == graphs
