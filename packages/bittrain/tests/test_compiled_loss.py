"""A torch.compile'd model gives the training loss the eager one gives, to 1e-5, on a fixed
batch of each kind (built as `bitlab train` builds it: the task's loss with its masks and, for
bitswin, its no-grad units pass; static unit shapes, as a compiled run uses)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from bitcodec.corpus_reader import open_corpus
from bittrain.bench.cases import BenchCase, prepare
from bittrain.fixtures import MICRO_BASELINES, MICRO_MODEL, write_sample_corpus
from bittrain.trainer.step import micro_inputs

# Inductor's CPU backend writes C++ and builds it: without a compiler torch.compile cannot run.
NO_COMPILER = shutil.which("g++") is None and shutil.which("c++") is None
CASES = {
    "bitswin": BenchCase("bitswin", "bitswin", "tiny", (*MICRO_MODEL, "model.static_units=true")),
    "byte": BenchCase("byte", "byte", "tiny", MICRO_BASELINES["byte"]),
}


@pytest.mark.slow
@pytest.mark.skipif(NO_COMPILER, reason="no C++ compiler: inductor cannot build CPU kernels")
@pytest.mark.parametrize("kind", sorted(CASES))
def test_compiled_and_eager_training_loss_agree(kind: str, tmp_path: Path) -> None:
    corpus_path = write_sample_corpus(tmp_path / "c.zarr", n_docs=60)
    p = prepare(CASES[kind], open_corpus(corpus_path), corpus_path, tmp_path / "run",
                torch.device("cpu"), batch_size=4, seq_len=128)  # fmt: skip
    step = p.config.max_steps - 1  # every masking level on
    ids = np.arange(4, dtype=np.int64)
    windows, starts, index = micro_inputs(p.split, ids, 128, p.config.seed, 4, p.device)

    def loss() -> float:
        out = p.task.loss(p.model, windows, starts, step=step, sample_index=index)
        return float(out.loss.detach())

    eager = loss()
    p.plain.compile()  # what `compile = true` does (bittrain.trainer.setup.wrap)
    compiled = loss()
    assert np.isfinite(eager)
    assert compiled == pytest.approx(eager, rel=1e-5, abs=1e-5)
