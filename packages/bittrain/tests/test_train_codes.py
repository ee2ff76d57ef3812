"""Encoding-table codes fed to the model must never reveal what the masks hide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

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
