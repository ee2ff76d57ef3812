"""Training tasks for the token-level baselines (the trainer's TrainTask protocol).

``make_baseline_task("byte" | "bpe", model_config, train_split=..., run_dir=..., seed=...,
total_steps=...)`` returns a task whose ``loss`` masks 15% of the units 80/10/10 and returns the
cross-entropy on them, whose ``validate`` scores a fixed-seed pure [MASK] mask and reports
``bpb`` (bits per byte covered), and whose ``save_pretrained`` writes a directory
``load_baseline`` reads back.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from bitbaselines.bpe import encode_pieces, load_tokenizer, save_tokenizer, token_byte_lengths
from bitbaselines.bpe_mlm import BpeMLM, bpe_mlm_forward_flops
from bitbaselines.byte_mlm import ByteMLM, byte_mlm_forward_flops
from bitbaselines.config import (
    BPE_PRESETS,
    BYTE_PRESETS,
    BpeMLMConfig,
    ByteMLMConfig,
    config_from_dict,
)
from bitbaselines.hf_bert import HfBertConfig, bert_config, bitbench_bert, transformers_module
from bitbaselines.weights import TOKENIZER_NAME

from bittrain.engine.bits import LN2
from bittrain.engine.contracts import Module, TaskBase, TaskLoss, TaskSpec, Tensor
from bittrain.engine.modules import eval_mode, model_device, unwrap
from bittrain.errors import BittrainError
from bittrain.fileio import write_json_atomic
from bittrain.reference_bpe import reference_bpe, train_documents
from bittrain.tasks.baseline_eval import BpeEvalModel, ByteEvalModel
from bittrain.tasks.baseline_masking import MaskDraw
from bittrain.tasks.baseline_scoring import MaskedScore, score_bytes, score_token_windows
from bittrain.tasks.hf_eval import HfEvalModel, save_hf_bert

log = logging.getLogger(__name__)

VALIDATION_SEED = 1234
VALIDATION_CHUNK = 32
KINDS = ("byte", "bpe", "hf-bert")


def _summary(scores: list[MaskedScore], unit: str) -> dict[str, float]:
    bits = sum(s.bits for s in scores)
    covered = sum(s.covered_bytes for s in scores)
    units = sum(s.units for s in scores)
    correct = sum(s.correct for s in scores)
    return {
        "bpb": bits / max(covered, 1),
        "loss": bits * LN2 / max(units, 1),
        f"acc_{unit}": correct / max(units, 1),
        "masked_units": float(units),
        "masked_bytes": float(covered),
    }


class _MaskedLMTask(TaskBase):
    """What the byte and BPE tasks share: the training loss and the fixed-seed validation over
    one masked-unit scorer, ``_score`` (a MaskedScore for a batch of byte windows)."""

    unit = "byte"  # metric names: acc_<unit>

    def _score(self, model, windows, doc_starts, draw: MaskDraw) -> MaskedScore:
        raise NotImplementedError

    def loss(
        self, model: Module, windows: Tensor, doc_starts: Tensor, *, step: int, sample_index: Tensor
    ) -> TaskLoss:
        draw = MaskDraw(self.config.mask_rate, self.seed, sample_index, step, train=True)
        score = self._score(model, windows, doc_starts, draw)
        metrics = {"bpb": score.bpb, f"acc_{self.unit}": score.correct / max(score.units, 1)}
        flops = 3.0 * self._forward_flops(score.rows, score.positions, score.units)
        return TaskLoss(loss=score.nll, metrics=metrics, phase=1, flops=flops)

    def _forward_flops(self, rows: int, positions: int, predicted: int) -> float:
        """Forward FLOPs of one call on [rows, positions] inputs predicting ``predicted`` units."""
        raise NotImplementedError

    def _window_flops(self) -> float:
        """Forward FLOPs of one training window at the expected shapes."""
        raise NotImplementedError

    def planned_flops(self, total_steps: int) -> float:
        """A forward with backward (3x) of every window of every step."""
        return 3.0 * self._window_flops() * self.batch_size * total_steps

    @torch.no_grad()
    def validate(
        self, model: Module, windows: Tensor, doc_starts: torch.Tensor
    ) -> dict[str, float]:
        scores = []
        with eval_mode(model):
            for start in range(0, windows.shape[0], VALIDATION_CHUNK):
                stop = min(start + VALIDATION_CHUNK, windows.shape[0])
                index = torch.arange(start, stop, device=windows.device)
                draw = MaskDraw(self.config.mask_rate, VALIDATION_SEED, index)
                scores.append(self._score(model, windows[start:stop], doc_starts[start:stop], draw))
        return _summary(scores, self.unit)


class ByteTask(_MaskedLMTask):
    """TrainTask of the byte-level window-attention masked LM."""

    kind = "byte"
    unit = "byte"

    def __init__(
        self, config: ByteMLMConfig, *, seed: int, batch_size: int = 1, seq_len: int = 256
    ) -> None:
        self.config = config
        self.seed = seed
        self.batch_size, self.seq_len = batch_size, seq_len
        self.model: torch.nn.Module = ByteMLM(config)

    def _forward_flops(self, rows: int, positions: int, predicted: int) -> float:
        return byte_mlm_forward_flops(self.config, rows, positions, predicted)

    def _window_flops(self) -> float:
        predicted = round(self.config.mask_rate * self.seq_len)
        return byte_mlm_forward_flops(self.config, 1, self.seq_len, predicted)

    def eval_view(self, model: torch.nn.Module) -> ByteEvalModel:
        net = unwrap(model)
        return ByteEvalModel(net, model_device(net))

    def _score(self, model, windows, doc_starts, draw: MaskDraw) -> MaskedScore:
        return score_bytes(model, windows, doc_starts, draw)

    def save_pretrained(self, model: Module, directory: Path) -> None:
        unwrap(model).save_pretrained(directory)  # BaselineHubMixin: atomic, Hub-ready


class BpeTask(_MaskedLMTask):
    """TrainTask of the BERT-style BPE-token masked LM; ``tokenizer`` is trained beforehand."""

    kind = "bpe"
    unit = "token"

    def __init__(
        self,
        config: BpeMLMConfig,
        tokenizer,
        *,
        seed: int,
        batch_size: int = 1,
        seq_len: int = 256,
    ) -> None:
        if tokenizer.get_vocab_size() != config.vocab_size:
            raise BittrainError(
                f"tokenizer has {tokenizer.get_vocab_size()} entries but the model config says "
                f"vocab_size {config.vocab_size}: make them agree"
            )
        self.config = config
        self.tokenizer = tokenizer
        self.seed = seed
        self.batch_size, self.seq_len = batch_size, seq_len
        self.model: torch.nn.Module = self._build(config)
        self._token_bytes = torch.from_numpy(token_byte_lengths(tokenizer))
        self._token_bytes_on: dict[torch.device, torch.Tensor] = {}

    def _build(self, config: BpeMLMConfig) -> torch.nn.Module:
        return BpeMLM(config)

    def _forward_flops(self, rows: int, positions: int, predicted: int) -> float:
        return bpe_mlm_forward_flops(self.config, rows, positions, predicted)

    def _window_flops(self) -> float:
        tokens = min(
            self.config.max_positions, math.ceil(self.seq_len / self.config.bytes_per_token)
        )
        predicted = round(self.config.mask_rate * tokens)
        return bpe_mlm_forward_flops(self.config, 1, tokens, predicted)

    def eval_view(self, model: torch.nn.Module) -> BpeEvalModel:
        net = unwrap(model)
        return BpeEvalModel(net, self.tokenizer, model_device(net))

    def _bytes_table(self, device: torch.device) -> torch.Tensor:
        if device not in self._token_bytes_on:
            self._token_bytes_on[device] = self._token_bytes.to(device)
        return self._token_bytes_on[device]

    def _score(self, model, windows, doc_starts, draw: MaskDraw) -> MaskedScore:
        return score_token_windows(
            model,
            self.tokenizer,
            windows,
            doc_starts,
            self._bytes_table(windows.device),
            max_tokens=self.config.max_positions,
            vocab_size=self.config.vocab_size,
            draw=draw,
        )

    def save_pretrained(self, model: Module, directory: Path) -> None:
        directory = Path(directory)
        save_tokenizer(self.tokenizer, directory / TOKENIZER_NAME)
        unwrap(model).save_pretrained(directory)  # BaselineHubMixin: atomic, Hub-ready


class HfBertTask(BpeTask):
    """TrainTask of the hf-bert baseline: the bpe task's masks, loss and validation on a
    Hugging Face BertForMaskedLM of the same size (bitbaselines.hf_bert)."""

    kind = "hf-bert"

    def _build(self, config: BpeMLMConfig) -> torch.nn.Module:
        return bitbench_bert(bert_config(config))

    def eval_view(self, model: torch.nn.Module) -> Any:
        return HfEvalModel.bitbench(unwrap(model), self.tokenizer, self.config.bytes_per_token)

    def save_pretrained(self, model: Module, directory: Path) -> None:
        save_hf_bert(model, self.config, self.tokenizer, Path(directory))


def _mean_bytes_per_token(tokenizer, pieces: list[bytes]) -> float:
    sample = [p[:4096] for p in pieces[:256]]
    tokens = sum(len(ids) for ids in encode_pieces(tokenizer, sample))
    return sum(len(p) for p in sample) / max(tokens, 1)


def _rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return int(os.environ.get("RANK", "0"))


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def prepare_tokenizer(config: BpeMLMConfig, train_split: Any, run_dir: Path, seed: int):
    """The run's tokenizer: reuse RUN/tokenizer.json (resume), else rank 0 takes the corpus's
    reference BPE of ``config.vocab_size`` (bittrain.reference_bpe: cached, trained on the train
    split's first bytes) and writes it; other ranks wait and read it."""

    del seed  # the reference BPE is a function of the train split and the size alone
    path = Path(run_dir) / TOKENIZER_NAME
    if path.is_file():
        return load_tokenizer(path)
    if _rank() == 0:
        tokenizer = reference_bpe(train_split, config.vocab_size)
        save_tokenizer(tokenizer, path)
        write_json_atomic(
            Path(run_dir) / "tokenizer_stats.json",
            {"bytes_per_token": _mean_bytes_per_token(tokenizer, train_documents(train_split))},
            sort_keys=True,
        )
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        _barrier()
    else:  # launched with RANK set but before the process group exists: wait for rank 0
        deadline = time.monotonic() + 600
        while not path.is_file():
            if time.monotonic() > deadline:
                raise BittrainError(f"rank {_rank()} waited 10 minutes for '{path}': is rank 0 up?")
            time.sleep(0.5)
    return load_tokenizer(path)


def make_baseline_task(
    kind: str,
    model_config: dict[str, Any],
    *,
    train_split: Any,
    run_dir: Path,
    seed: int,
    total_steps: int,
    batch_size: int = 1,
    seq_len: int = 256,
) -> ByteTask | BpeTask:
    """Build the TrainTask of baseline ``kind`` ("byte", "bpe" or "hf-bert") from the
    ``[model]`` table."""
    del total_steps  # constant masking rate: no schedule depends on the run length
    model_config = {k: v for k, v in dict(model_config or {}).items() if k != "kind"}
    torch.manual_seed(seed)  # identical initial weights on every rank and every rerun
    if kind == "byte":
        config = config_from_dict(ByteMLMConfig, model_config, BYTE_PRESETS)
        return ByteTask(config, seed=seed, batch_size=batch_size, seq_len=seq_len)
    if kind in ("bpe", "hf-bert"):
        config_class: type = BpeMLMConfig
        if kind == "hf-bert":
            transformers_module()  # fail before training a tokenizer when it is missing
            config_class = HfBertConfig
        config = config_from_dict(config_class, model_config, BPE_PRESETS)
        tokenizer = prepare_tokenizer(config, train_split, Path(run_dir), seed)
        stats_path = Path(run_dir) / "tokenizer_stats.json"
        bytes_per_token = config.bytes_per_token
        if stats_path.is_file():
            bytes_per_token = float(json.loads(stats_path.read_text())["bytes_per_token"])
        config = dataclasses.replace(
            config, vocab_size=tokenizer.get_vocab_size(), bytes_per_token=bytes_per_token
        )
        torch.manual_seed(seed)
        task_class = HfBertTask if kind == "hf-bert" else BpeTask
        return task_class(config, tokenizer, seed=seed, batch_size=batch_size, seq_len=seq_len)
    raise BittrainError(f"baseline kind {kind!r} is unknown: use one of {list(KINDS)}")


def build_baseline_task(spec: TaskSpec) -> ByteTask | BpeTask:
    """The registry's factory: ``make_baseline_task`` from a TaskSpec."""
    return make_baseline_task(
        spec.kind,
        {"preset": spec.preset, **dict(spec.model)},
        train_split=spec.train_split,
        run_dir=spec.run_dir,
        seed=spec.seed,
        total_steps=spec.total_steps,
        batch_size=spec.batch_size,
        seq_len=spec.seq_len,
    )


def check_baseline_spec(spec: TaskSpec) -> None:
    """The [model] settings of a baseline spec are valid (raises BittrainError)."""
    raw = {"preset": spec.preset, **dict(spec.model)}
    if spec.kind == "byte":
        config_from_dict(ByteMLMConfig, raw, BYTE_PRESETS)
    else:
        config_from_dict(BpeMLMConfig, raw, BPE_PRESETS)
