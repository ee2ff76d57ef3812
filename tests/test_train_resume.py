"""A training run killed with SIGKILL and continued with --resume ends bitwise equal to an
uninterrupted run (CPU, one process). The run uses model boundaries, a boundary-model snapshot
refreshed every 3 steps and encoding-table updates, so all of the task's state must resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus

BITLAB = [sys.executable, "-m", "bitlab"]
SETTINGS = [
    "max_steps=12",
    "checkpoint_every=4",
    "eval_every=6",
    "eval_windows=4",
    "batch_size=4",
    "seq_len=32",
    "log_every=2",
    "table_update_every=5",
    "boundary_refresh_every=3",
    "warmup_steps=3",
    "lr=3e-3",
    *MICRO_MODEL,
]


def _args(corpus: Path, out: Path) -> list[str]:
    args = [*BITLAB, "train", "--corpus", str(corpus), "--out", str(out), "--no-progress"]
    for item in SETTINGS:
        args += ["--set", item]
    return args


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    full_env.pop("BITLAB_TRAIN_FAULT", None) if "BITLAB_TRAIN_FAULT" not in env else None
    return subprocess.run(args, capture_output=True, text=True, env=full_env, timeout=240)


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "model" / "model.safetensors"))


@pytest.mark.slow
def test_sigkill_then_resume_is_bitwise_equal(tmp_path) -> None:
    import torch

    corpus = write_sample_corpus(tmp_path / "c.zarr", n_docs=200)
    straight, killed = tmp_path / "straight", tmp_path / "killed"

    done = _run(_args(corpus, straight))
    assert done.returncode == 0, done.stderr

    crash = _run(_args(corpus, killed), BITLAB_TRAIN_FAULT="kill@10")
    assert crash.returncode == -signal.SIGKILL, crash.stderr
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == [
        "step-00000004",
        "step-00000008",
    ]
    assert not (killed / "model").exists()

    resumed = _run([*BITLAB, "train", "--out", str(killed), "--resume", "--no-progress"])
    assert resumed.returncode == 0, resumed.stderr

    a, b = _weights(straight), _weights(killed)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name

    def rows(run: Path) -> list[dict]:
        out = []
        for line in (run / "metrics.jsonl").read_text().splitlines():
            row = json.loads(line)
            row.pop("elapsed_s", None)
            row.pop("bits_per_s", None)
            out.append(row)
        return out

    assert rows(straight) == rows(killed)  # the resumed log has no duplicate or missing rows
    assert (straight / "table/table.json").read_text() == (killed / "table/table.json").read_text()
    config_a = (straight / "config.toml").read_text().replace(str(straight), "RUN")
    assert config_a == (killed / "config.toml").read_text().replace(str(killed), "RUN")
