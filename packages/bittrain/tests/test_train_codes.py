"""Encoding-table codes fed to the model must never reveal what the masks hide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from bittokens import MASK_ID
from micro_tasks import micro_bitswin_task

TEXT = b"the cat sat on the mat and the dog sat on the log " * 40


def _task(tmp_path: Path):
    from bittrain.tasks import BitSwinTask
    from bittrain.trainer.config import TrainConfig
    from bittrain.trainer.setup import task_spec
    from enctable import AdaptiveEncodingTable
    from enctable.priors import whitespace_starts

    table = AdaptiveEncodingTable(levels=2, max_size=300)
    data = np.frombuffer(TEXT, dtype=np.uint8)[None, :]  # [1, n]
    table.update_tables(data, whitespace_starts(data[0]).astype(np.float32)[None, :], step=1)
    table.save(tmp_path / "table")
    config = TrainConfig(
        task="bitswin",
        model_config={
            "depths": [1, 1],
            "widths": [16, 32],
            "heads": [1, 2],
            "windows_bits": [8, 24],
        },
        task_options={
            "table_codes": str(tmp_path / "table"),
            "table_mode": "fixed",
            "table_code_level": 2,
            "steps_per_epoch": 10,
        },
    )
    return BitSwinTask(task_spec(config, None, total_steps=100))


def test_codes_depend_only_on_what_is_shown(tmp_path: Path) -> None:
    from bitcodec import batch_bytes_to_bits
    from bittokens import MASK_ID

    task = _task(tmp_path)
    true = np.frombuffer(TEXT[:64], dtype=np.uint8)[None, :].copy()  # [1, 64]
    other = true.copy()
    other[0, 4:7] = np.frombuffer(b"dog", dtype=np.uint8)  # "cat" -> "dog" under the mask
    hidden = torch.zeros(1, 64, dtype=torch.bool)
    hidden[0, 4:7] = True
    ids = []
    for rows in (true, other):
        bits = torch.from_numpy(batch_bytes_to_bits(rows).astype(np.int64))  # [1, 512]
        ids.append(bits.masked_fill(hidden.repeat_interleave(8, dim=1), MASK_ID))
    codes_true, codes_other = task.codes(ids[0]), task.codes(ids[1])
    # Inputs that differ only in hidden bytes get identical codes: nothing leaks ...
    assert torch.equal(codes_true, codes_other)
    # ... hidden bytes have no code, and shown units still carry multi-byte codes (>= 256).
    assert (codes_true[0, 4:7] == -1).all()
    assert (codes_true[0, 8:] >= 256).any()
    # Had the codes come from the true bytes, "cat" and "dog" would differ somewhere.
    plain = [
        task.codes(torch.from_numpy(batch_bytes_to_bits(r).astype(np.int64))) for r in (true, other)
    ]
    assert not torch.equal(plain[0], plain[1])


def test_unmasked_input_gets_codes_everywhere(tmp_path: Path) -> None:
    from bitcodec import batch_bytes_to_bits

    task = _task(tmp_path)
    rows = np.frombuffer(TEXT[:64], dtype=np.uint8)[None, :]
    ids = torch.from_numpy(batch_bytes_to_bits(rows).astype(np.int64))
    codes = task.codes(ids)
    assert codes.shape == (1, 64)
    assert (codes >= 0).all()


def _adaptive_task(run_dir: Path, is_main: bool = True, **options):
    return micro_bitswin_task(
        run_dir,
        model={"ngram_sizes": [2, 3]},
        byte_rate=0.15,
        task_options={"table_mode": "adaptive", "table_update_every": 2, "table_max_size": 50,
                      **options},
        is_main=is_main,
    )  # fmt: skip


def _windows():
    rows = np.frombuffer(TEXT[: 4 * 64], dtype=np.uint8).reshape(4, 64).copy()
    starts = np.zeros(rows.shape, dtype=bool)
    starts[:, 0] = True
    return torch.from_numpy(rows), torch.from_numpy(starts)


def test_adaptive_table_starts_empty_and_grows_from_the_models_units(tmp_path: Path) -> None:
    from bitcodec import batch_bytes_to_bits

    task = _adaptive_task(tmp_path)
    assert task.table is task.fed_table and task.codes is not None
    assert task.model_config.code_vocab_size == 256 + 2 * 50  # the whole code space up front
    assert sum(task.table.level_sizes().values()) == 0
    windows, starts = _windows()
    ids = torch.from_numpy(batch_bytes_to_bits(windows.numpy()).astype(np.int64))
    assert (task.codes(ids) < 256).all()  # an empty table: every byte is its own code
    for step in range(4):  # table updates after steps 1 and 3 (every 2 steps)
        out = task.loss(task.model, windows, starts, step=step, sample_index=torch.arange(4))
        assert torch.isfinite(out.loss)
    assert task.table.updates == 2 and task.table.level_sizes()[1] + task.table.level_sizes()[2]
    assert (task.codes(ids) >= 256).any()  # units of the model now have codes of their own
    # the grown table's codes still come from shown bytes only
    hidden = torch.zeros(4, 64, dtype=torch.bool)
    hidden[:, 10:14] = True
    other = windows.clone()
    other[hidden] = other[hidden] ^ 0x55
    masked = []
    for rows in (windows, other):
        bits = torch.from_numpy(batch_bytes_to_bits(rows.numpy()).astype(np.int64))
        masked.append(bits.masked_fill(hidden.repeat_interleave(8, dim=1), MASK_ID))
    assert torch.equal(task.codes(masked[0]), task.codes(masked[1]))
    assert (task.codes(masked[0])[hidden] == -1).all()


def test_adaptive_table_resumes_exactly(tmp_path: Path) -> None:
    from bitcodec import batch_bytes_to_bits

    task = _adaptive_task(tmp_path / "a")
    windows, starts = _windows()
    for step in range(2):
        task.loss(task.model, windows, starts, step=step, sample_index=torch.arange(4))
    task.save_state(tmp_path / "state")
    fresh = _adaptive_task(tmp_path / "b")
    fresh.load_state(tmp_path / "state")
    assert fresh.table is fresh.fed_table and fresh.codes.table is fresh.table
    ids = torch.from_numpy(batch_bytes_to_bits(windows.numpy()).astype(np.int64))
    assert torch.equal(fresh.codes(ids), task.codes(ids))
    assert fresh.table.level_sizes() == task.table.level_sizes()
    assert fresh.eval_view(fresh.model).codes.table is fresh.table


def test_every_rank_grows_a_fed_table_and_adaptive_needs_the_table(tmp_path: Path) -> None:
    from bittrain.errors import BittrainError

    other_rank = _adaptive_task(tmp_path, is_main=False)
    windows, starts = _windows()
    for step in range(2):
        other_rank.loss(other_rank.model, windows, starts, step=step, sample_index=torch.arange(4))
    assert other_rank.table.updates == 1  # not only rank 0: the codes must agree on every rank
    with pytest.raises(BittrainError, match="table_enabled"):
        _adaptive_task(tmp_path, table_enabled=False)
