"""Baseline model folders as the trainer writes them and evaluation reads them (load_baseline),
including folders written before the Hub mixin."""

from __future__ import annotations

import dataclasses
import json

from bitbaselines import ByteMLM, ByteMLMConfig
from bittrain.tasks.baseline_eval import load_baseline
from bittrain.tasks.baseline_task import ByteTask
from safetensors.torch import save_file

TINY_BYTE = ByteMLMConfig(d_model=32, n_layers=2, n_heads=2, window=8)


def test_the_byte_task_writes_a_folder_load_baseline_reads(tmp_path):
    task = ByteTask(TINY_BYTE, seed=0)
    task.save_pretrained(task.model, tmp_path / "model")
    assert json.loads((tmp_path / "model" / "config.json").read_text())["architectures"] == [
        "ByteMLM"
    ]
    assert load_baseline(tmp_path / "model").kind == "byte"


def test_folders_without_architectures_still_load(tmp_path):
    """RUN/model of runs trained before the mixin: config.json is the bare config dict."""
    model = ByteMLM(TINY_BYTE)
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(TINY_BYTE)))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(tmp_path / "model.safetensors"))  # fmt: skip
    assert ByteMLM.from_pretrained(tmp_path).config == TINY_BYTE
    assert load_baseline(tmp_path).kind == "byte"
