"""`bitlab demo` end to end at a tiny scale: every stage runs for real and the summary is read
back from the files the stages wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bitlab",
            "demo",
            "--minutes",
            "0.25",
            "--corpus-mb",
            "1",
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    # Numbers come from the evaluation the demo ran, not from the demo itself.
    metrics = json.loads((out / "run" / "eval" / "metrics.json").read_text())
    assert summary["bpb"] == metrics["bpb"]
    assert 0.0 < summary["bpb"] < 8.5  # bits per byte of a (barely) trained model
    assert 0.0 <= summary["acc_byte"] <= 1.0
    assert summary["boundary_f1"] is not None
    assert Path(summary["paths"]["report"]).is_file()
    assert summary["paths"]["plots"], "the evaluation wrote no plots"
    assert (out / "run" / "model" / "model.safetensors").is_file()
    assert (out / "run" / "table" / "table.json").is_file()
    for stage in ("prepare-corpus", "train", "table build", "eval"):
        assert stage in result.stderr


def test_demo_refuses_a_foreign_out_dir(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    (out / "run").mkdir(parents=True)
    (out / "run" / "precious.txt").write_text("keep me")
    (out / "corpus.zarr").mkdir()  # pretend the corpus exists so the demo goes to the run stage
    result = subprocess.run(
        [sys.executable, "-m", "bitlab", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "not a bitlab run directory" in result.stderr
    assert (out / "run" / "precious.txt").read_text() == "keep me"
