"""`bitlab train --nproc 2` on CPU (gloo, torch's elastic launcher): replicas stay identical,
the loss falls, a 2-worker run matches a 1-worker run with the same global batch, and a worker
killed mid-run is replaced by the elastic agent (--max-restarts 1) and the run completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus

BITLAB = [sys.executable, "-m", "bitlab"]
SETTINGS = [
    "max_steps=10",
    "checkpoint_every=4",
    "eval_every=0",
    "eval_windows=4",
    "batch_size=4",
    "seq_len=32",
    "log_every=1",
    "table_update_every=5",
    "warmup_steps=2",
    "lr=3e-3",
    *MICRO_MODEL,
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_sample_corpus(tmp_path_factory.mktemp("corpus") / "c.zarr", n_docs=200)


def _bitlab_train(
    corpus: Path, out: Path, *extra: str, fault: str | None = None
) -> subprocess.CompletedProcess:
    args = [*BITLAB, "train", "--corpus", str(corpus), "--out", str(out), "--no-progress", "--json"]
    for item in SETTINGS:
        args += ["--set", item]
    env = {k: v for k, v in os.environ.items() if k != "BITLAB_TRAIN_FAULT"}
    if fault:
        env["BITLAB_TRAIN_FAULT"] = fault
    return subprocess.run([*args, *extra], capture_output=True, text=True, env=env, timeout=240)


def _train(corpus: Path, out: Path, *extra: str, fault: str | None = None) -> dict:
    done = _bitlab_train(corpus, out, *extra, fault=fault)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _losses(run: Path) -> list[float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["kind"] == "train"]


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "model" / "model.safetensors"))


@pytest.fixture(scope="module")
def two_workers(corpus, tmp_path_factory) -> tuple[dict, Path]:
    run = tmp_path_factory.mktemp("two") / "run"
    return _train(corpus, run, "--nproc", "2"), run


@pytest.mark.slow
def test_two_workers_agree_with_one(corpus, two_workers, tmp_path) -> None:
    import torch

    two, two_run = two_workers
    assert two["status"] == "ok" and two["step"] == 10 and two["world_size"] == 2
    digests = two["param_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]  # replicas identical after training

    losses = _losses(two_run)
    assert len(losses) == 10
    assert losses[-1] < losses[1] - 0.3  # falls (step 1 is bit-only; byte loss joins at step 2)

    # One worker, two micro-batches: the same global batch, the same samples per micro-batch.
    one = _train(corpus, tmp_path / "one", "--set", "grad_accum=2")
    assert one["world_size"] == 1
    a, b = _weights(tmp_path / "one"), _weights(two_run)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)
    for x, y in zip(_losses(tmp_path / "one"), losses, strict=True):
        assert abs(x - y) < 1e-4


@pytest.mark.slow
def test_killed_worker_is_restarted_and_the_run_completes(corpus, two_workers, tmp_path) -> None:
    run = tmp_path / "elastic"
    result = _train(corpus, run, "--nproc", "2", "--max-restarts", "1", fault="kill@7:1")
    assert result["status"] == "ok" and result["step"] == 10
    steps = [
        json.loads(line)["step"]
        for line in (run / "metrics.jsonl").read_text().splitlines()
        if json.loads(line)["kind"] == "train"
    ]
    assert steps == list(range(1, 11))  # resumed from step 4; rows after it were re-logged once
    assert (run / "model" / "model.safetensors").is_file()
    # Recovery is exact: the same weights as a run that was never interrupted.
    assert two_workers[0]["param_digests"] == result["param_digests"]


@pytest.mark.slow
def test_own_command_line_plus_resume_continues_a_two_worker_run(
    corpus, two_workers, tmp_path
) -> None:
    """The README's promises for --nproc 2: the run's own command line without --resume is one
    line and exit 2, leaving the run as it was; with --resume it continues exactly (the launcher
    saved device 'cpu' for the workers, the command line says 'auto': not a change of the run)."""
    run = tmp_path / "stopped"
    stopped = _bitlab_train(corpus, run, "--nproc", "2", fault="nan@7")
    assert stopped.returncode == 2, stopped.stderr[-3000:]
    assert 'device = "cpu"' in (run / "config.toml").read_text()
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    again = _bitlab_train(corpus, run, "--nproc", "2")
    assert again.returncode == 2
    line = again.stderr.strip()
    assert "\n" not in line and "already holds a run" in line and "--resume" in line, line
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files
    result = _train(corpus, run, "--nproc", "2", "--resume")
    assert result["status"] == "ok" and result["step"] == 10
    assert result["param_digests"] == two_workers[0]["param_digests"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "extra"), [("bitlab.train", ["--json"]), ("bittrain.train", [])]
)
def test_torchrun_module_entry_point(corpus, two_workers, tmp_path, module, extra) -> None:
    """`torchrun -m bitlab.train ...` (the CLI) and `torchrun -m bittrain.train ...` (the library,
    no CLI) join torchrun's process group: the same run as --nproc 2."""
    run = tmp_path / "torchrun"
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            "-m", module, "--corpus", str(corpus), "--out", str(run), "--no-progress",
            *extra]  # fmt: skip
    for item in SETTINGS:
        args += ["--set", item]
    env = {k: v for k, v in os.environ.items() if k != "BITLAB_TRAIN_FAULT"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)  # only rank 0 prints
    assert result["world_size"] == 2
    assert result["param_digests"] == two_workers[0]["param_digests"][:1]


@pytest.mark.slow
def test_fsdp2_matches_ddp(corpus, two_workers, tmp_path) -> None:
    import torch

    result = _train(corpus, tmp_path / "fsdp", "--nproc", "2", "--set", 'parallel="fsdp"')
    assert result["status"] == "ok" and result["step"] == 10
    a, b = _weights(tmp_path / "fsdp"), _weights(two_workers[1])
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)
    ckpt = tmp_path / "fsdp" / "checkpoints" / "step-00000010"
    assert (ckpt / "optimizer.safetensors").is_file() and (ckpt / "model.safetensors").is_file()
