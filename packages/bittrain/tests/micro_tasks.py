"""A micro bitswin training task (3 stages, 64-byte windows, byte masks only) for the tests
of the model's extra inputs (encoding-table codes, hashed n-grams)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bittrain.tasks import BitSwinTask
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.setup import task_spec

MICRO_STAGES = {
    "depths": [1, 1, 1],
    "widths": [8, 16, 16],
    "heads": [1, 2, 2],
    "windows": [8, 4, 4],
}
BYTE_MASKS_ONLY = {"byte_start": 0.0, "mix_bit": 0.0, "mix_byte": 1.0, "mix_word": 0.0,
                   "mix_phrase": 0.0}  # fmt: skip


def micro_bitswin_task(
    run_dir: Path,
    *,
    model: Mapping[str, Any],
    byte_rate: float,
    task_options: Mapping[str, Any],
    is_main: bool = True,
) -> BitSwinTask:
    """The task of 4 windows of 64 bytes a step over 10 steps; `model` adds to MICRO_STAGES."""
    config = TrainConfig(
        task="bitswin",
        out=str(run_dir),
        seq_len=64,
        batch_size=4,
        model_config={**MICRO_STAGES, **model},
        mask={**BYTE_MASKS_ONLY, "byte_rate": byte_rate},
        task_options=dict(task_options),
    )
    return BitSwinTask(task_spec(config, None, total_steps=10, is_main=is_main))
