"""The worker frees its DDP wrapper before it tears the process group down: when the reducer
holds the group's last reference, torch 2.13 destroys the group with the GIL held while a gloo
thread may wait for the GIL to free a finished all-reduce (a deadlock that hung the NaN stop of
2-worker runs). Checked on a one-rank gloo group in this process."""

from __future__ import annotations

import gc
import socket
from pathlib import Path

import torch.distributed as torch_dist
from bittrain import load_config
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus
from bittrain.trainer import setup
from bittrain.trainer.dist import DistContext
from bittrain.trainer.worker import WorkerOptions, worker_main
from torch.nn.parallel import DistributedDataParallel


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _live_wrappers() -> int:
    return sum(type(o) is DistributedDataParallel for o in gc.get_objects())


def test_ddp_wrapper_is_freed_before_the_group_is_destroyed(tmp_path: Path, monkeypatch) -> None:
    corpus = write_sample_corpus(tmp_path / "c.zarr", n_docs=30)
    cfg = load_config(
        "tiny",
        ["max_steps=2", "batch_size=2", "seq_len=32", "eval_every=0", "eval_windows=2",
         "checkpoint_every=100", "warmup_steps=1", "device=cpu", *MICRO_MODEL],
        corpus=str(corpus), out=str(tmp_path / "run"),
    )  # fmt: skip
    env = {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(_free_port()), "TORCHELASTIC_RUN_ID": "teardown-test"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    wrapped, seen = [], {}
    original_wrap, original_close = setup.wrap, DistContext.close

    def wrap(plain, config, ctx):
        model = original_wrap(plain, config, ctx)
        wrapped.append(isinstance(model, DistributedDataParallel))
        return model

    def close(self) -> None:
        seen["group"] = torch_dist.is_initialized()
        seen["wrappers"] = _live_wrappers()
        original_close(self)

    monkeypatch.setattr(setup, "wrap", wrap)
    monkeypatch.setattr(DistContext, "close", close)
    try:
        result = worker_main(cfg, WorkerOptions(progress=False))
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    assert result["status"] == "ok" and result["step"] == 2
    assert wrapped == [True]  # the run was wrapped in DDP (a real process group)
    assert seen == {"group": True, "wrappers": 0}
