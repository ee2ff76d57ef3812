"""Trainer building blocks: schedule, data sharding, checkpoints, optimizer state, metrics, plots."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from bittrain.errors import BittrainError
from bittrain.fixtures import write_sample_corpus
from bittrain.trainer.checkpoints.files import (
    STATE_FILE,
    flatten_optimizer_state,
    latest_checkpoint,
    list_checkpoints,
    unflatten_optimizer_state,
    write_checkpoint,
)
from bittrain.trainer.checkpoints.state import load_optimizer, save_optimizer
from bittrain.trainer.data import Sharding, draw_windows, eval_windows
from bittrain.trainer.faults import Faults
from bittrain.trainer.metrics_log import MetricsLog, read_metrics, truncate_metrics
from bittrain.trainer.plots import write_plots
from bittrain.trainer.schedule import lr_at


def test_warmup_then_cosine() -> None:
    kw = {"lr": 1.0, "warmup_steps": 10, "max_steps": 110, "min_lr_ratio": 0.1}
    assert lr_at(0, **kw) == pytest.approx(0.1)
    assert lr_at(9, **kw) == pytest.approx(1.0)
    assert lr_at(10, **kw) == pytest.approx(1.0)
    assert lr_at(60, **kw) == pytest.approx(0.55)
    assert lr_at(110, **kw) == pytest.approx(0.1)
    assert lr_at(500, **kw) == pytest.approx(0.1)
    values = [lr_at(s, **kw) for s in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_sharding_splits_the_global_batch() -> None:
    one = Sharding(8, 1, 0, 2)
    ids_one = np.concatenate([one.sample_ids(3, m) for m in range(2)])
    two = [Sharding(8, 2, r, 1) for r in range(2)]
    ids_two = np.concatenate([s.sample_ids(3, 0) for s in two])
    assert ids_one.tolist() == ids_two.tolist() == list(range(24, 32))
    with pytest.raises(BittrainError, match="multiple of 6"):
        Sharding(8, 3, 0, 2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from bitcodec.corpus_reader import open_corpus

    path = write_sample_corpus(tmp_path_factory.mktemp("c") / "c.zarr", n_docs=60)
    return open_corpus(path)


def test_windows_depend_only_on_seed_step_and_sample(corpus) -> None:
    ids = np.arange(16, 24)
    w, d = draw_windows(corpus.train, ids, 32, seed=1, batch_size=8)
    w2, d2 = draw_windows(corpus.train, ids[4:], 32, seed=1, batch_size=8)
    assert np.array_equal(w[4:], w2) and np.array_equal(d[4:], d2)
    w3, _ = draw_windows(corpus.train, ids, 32, seed=2, batch_size=8)
    assert not np.array_equal(w, w3)
    v1, _ = eval_windows(corpus.val, 4, 32, 0)
    v2, _ = eval_windows(corpus.val, 4, 32, 0)
    assert np.array_equal(v1, v2)


def _fill(step: int):
    def fill(directory):
        (directory / "weights.bin").write_bytes(b"x" * step)
        (directory / STATE_FILE).write_text(json.dumps({"step": step}))

    return fill


def test_checkpoints_are_atomic_and_pruned(tmp_path) -> None:
    for step in (10, 20, 30):
        write_checkpoint(tmp_path, step, _fill(step), keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [20, 30]
    assert latest_checkpoint(tmp_path).name == "step-00000030"

    def broken(directory):
        (directory / "weights.bin").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_checkpoint(tmp_path, 40, broken, keep=2)
    assert latest_checkpoint(tmp_path).name == "step-00000030"
    assert not list((tmp_path / "checkpoints").glob(".tmp-*"))
    # A directory without the state file (e.g. copied by hand, half-written) is not a checkpoint.
    (tmp_path / "checkpoints" / "step-00000050").mkdir()
    assert latest_checkpoint(tmp_path).name == "step-00000030"


def test_optimizer_state_round_trips_without_pickle(tmp_path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.98))
    for _ in range(3):
        model(torch.randn(5, 4)).pow(2).sum().backward()
        opt.step()
        opt.zero_grad()
    save_optimizer(tmp_path, opt.state_dict())
    assert not list(tmp_path.glob("*.pt"))
    fresh = torch.optim.AdamW(model.parameters(), lr=1.0)
    load_optimizer(tmp_path, model, fresh, fsdp=False)
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for key in a["state"]:
        for name, value in a["state"][key].items():
            assert torch.equal(value, b["state"][key][name])
    tensors, meta = flatten_optimizer_state({"state": {"w": {"step": 3.0}}, "param_groups": []})
    assert unflatten_optimizer_state(tensors, meta)["state"] == {"w": {"step": 3.0}}


def test_metrics_log_truncate_and_plots(tmp_path) -> None:
    log = MetricsLog(tmp_path)
    for step in range(1, 21):
        log.write(
            {
                "kind": "train",
                "step": step,
                "loss": 5.0 / step,
                "loss_bit": 0.7,
                "loss_byte": 4.0 / step,
                "train_acc_bit": 0.5 + step / 100,
            }
        )
        if step % 10 == 0:
            log.write(
                {"kind": "val", "step": step, "val_bpb_masked": 8.0 / step, "val_acc_byte": 0.1}
            )
    log.write({"kind": "train", "step": 21, "loss": float("nan")})
    log.close()
    with open(tmp_path / "metrics.jsonl", "a") as fh:
        fh.write('{"kind": "tra')  # a line cut by a kill
    rows = read_metrics(tmp_path)
    assert len(rows) == 23 and rows[-1]["loss"] is None
    truncate_metrics(tmp_path, 15)
    assert max(r["step"] for r in read_metrics(tmp_path)) == 15
    files = write_plots(tmp_path)
    assert {f.name for f in files} == {"loss.png", "accuracy.png", "validation.png"}
    assert all(f.read_bytes()[:4] == b"\x89PNG" for f in files)


def test_fault_hooks_parse(monkeypatch) -> None:
    monkeypatch.setenv("BITLAB_TRAIN_FAULT", "kill@7:1, nan@3")
    faults = Faults.from_env()
    assert (faults.kill_step, faults.kill_rank, faults.nan_step) == (7, 1, 3)
    assert faults.poison(3) and not faults.poison(4)
    faults.maybe_kill(7, rank=0, restart_count=0)  # another rank: no kill
    faults.maybe_kill(7, rank=1, restart_count=1)  # a restart: no kill


def test_out_of_memory_names_the_knobs() -> None:
    from bittrain.trainer.config import TrainConfig
    from bittrain.trainer.loop import is_oom, oom_error

    assert is_oom(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_oom(RuntimeError("shape mismatch"))
    message = str(oom_error(TrainConfig(batch_size=64, seq_len=512, grad_accum=1), 12))
    assert "step 12" in message and "batch_size" in message and "seq_len" in message
    assert "grad_accum" in message
