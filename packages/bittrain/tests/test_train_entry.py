"""`python -m bittrain`: training without the CLI, the same options as `bitlab train`; a mistake
is one line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bittrain.fixtures import MICRO_MODEL, write_sample_corpus

SETTINGS = ["max_steps=3", "batch_size=2", "seq_len=32", "eval_every=0", "log_every=1",
            "eval_windows=2", "bitswin.table_enabled=false", *MICRO_MODEL]  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bittrain", *args], capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_python_m_bittrain_trains_and_prints_the_result(tmp_path: Path) -> None:
    corpus = write_sample_corpus(tmp_path / "c.zarr", n_docs=60)
    sets = [a for item in SETTINGS for a in ("--set", item)]
    done = _run("--corpus", str(corpus), "--out", str(tmp_path / "run"), "--no-progress", *sets)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["status"] == "ok" and result["step"] == 3
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    config = (tmp_path / "run" / "config.toml").read_text()
    assert "[bitswin]" in config and "table_enabled = false" in config


def test_a_mistake_is_one_line_and_exit_2(tmp_path: Path) -> None:
    corpus = write_sample_corpus(tmp_path / "c.zarr", n_docs=20)
    done = _run("--corpus", str(corpus), "--out", str(tmp_path / "r"), "--set", "lr_max=1")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bittrain: error: unknown config key 'lr_max'")
    assert not (tmp_path / "r").exists()
