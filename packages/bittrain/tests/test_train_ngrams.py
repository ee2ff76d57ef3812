"""Hashed byte n-grams: a training step and the evaluation of the same shown bytes look up the
same n-gram rows (one hash, deterministic, in both paths)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from bitswin.routing import byte_view
from bittokens import MASK_ID
from bittrain.tasks import BitSwinTask
from micro_tasks import micro_bitswin_task

TEXT = "the cat sat on the mat; 我们是中国人，今天的天气很好。 ".encode() * 20


def _task(run_dir: Path) -> BitSwinTask:
    return micro_bitswin_task(
        run_dir,
        model={"ngram_sizes": [2, 3, 5, 8], "ngram_hashes": 2, "ngram_buckets": 61},
        byte_rate=0.2,
        task_options={"table_enabled": False},
    )


def _record(module: torch.nn.Module, seen: list[torch.Tensor]) -> None:
    module.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))


def test_training_and_evaluation_hash_the_same_shown_bytes_alike(tmp_path: Path) -> None:
    task = _task(tmp_path)
    model = task.model
    rows = np.frombuffer(TEXT[: 4 * 64], dtype=np.uint8).reshape(4, 64).copy()
    windows = torch.from_numpy(rows)
    starts = torch.zeros(rows.shape, dtype=torch.bool)
    starts[:, 0] = True
    starts[1, 30] = True  # a second document inside a window

    fed: list[torch.Tensor] = []  # the input ids of every forward (engine.inputs.forward)
    _record(model, fed)
    grams: list[torch.Tensor] = []  # the n-gram rows every forward looks up
    _record(model.ngrams.table, grams)
    model.train()
    out = task.loss(model, windows, starts, step=0, sample_index=torch.arange(4))
    assert torch.isfinite(out.loss) and len(grams) == len(fed) == 1  # one masked forward
    input_ids = fed[0]

    # What the training step showed, scored by the evaluation path (BitSwinEval)
    view = byte_view(input_ids)
    assert not (~view.shown & ~view.hidden).any()  # byte masks only: no byte partly hidden
    shown = torch.where(view.shown, view.value, windows.long()).to(torch.uint8).numpy()
    hidden = view.hidden.numpy()
    assert hidden.any()
    evaluator = task.eval_view(model)
    evaluator.hidden_byte_bits(shown, hidden, doc_starts=starts.numpy())
    assert len(grams) == 2 and torch.equal(grams[0], grams[1])
    assert torch.equal(fed[1], input_ids)
    # deterministic: the same input again, and the ids depend on the shown bytes only
    evaluator.hidden_byte_bits(shown, hidden, doc_starts=starts.numpy())
    assert torch.equal(grams[2], grams[0])
    assert (input_ids.reshape(4, 64, 8)[torch.from_numpy(hidden)] == MASK_ID).all()
    assert not torch.equal(grams[0], _ids_of_the_true_bytes(model, rows, grams))


def _ids_of_the_true_bytes(model, rows: np.ndarray, grams: list[torch.Tensor]) -> torch.Tensor:
    """The n-gram rows of the same windows shown whole (the hidden bytes do change them)."""
    with torch.no_grad():
        model(torch.from_numpy(np.unpackbits(rows, axis=1).astype(np.int64)))
    return grams[-1]
