"""The contracts between the trainer (apps/cli), the training tasks and evaluation, in code.

A *task* is what the trainer trains: a model plus how one step turns windows into a loss. Every
task kind (``bitswin``, ``byte``, ``bpe``, ...) is registered once in
:mod:`bittrain.engine.registry`; the trainer knows nothing else about it. An *EvalModel* is a
trained model seen by bitbench's measurements (``bitlab eval``, ``compare``, ``probe``).

Shapes: B windows per (micro-)batch, L bytes per window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

# The types of the contracts' signatures. Shapes: N windows (rows) of L bytes.
Windows = np.ndarray  # uint8 [N, L]
Flags = np.ndarray  # bool [N, L]: one flag per byte (hidden, padding, document start)
OptFlags = np.ndarray | None
Module = torch.nn.Module
Tensor = torch.Tensor


@dataclass(frozen=True)
class TaskLoss:
    """What ``TrainTask.loss`` returns for one micro-batch.

    ``flops`` counts every forward the call ran (passes with gradients count 3x: forward and
    backward; no-grad passes such as boundary scoring 1x), for the micro-batch it was given.
    """

    loss: torch.Tensor  # scalar with grad
    metrics: Mapping[str, float | torch.Tensor] = field(default_factory=dict)
    phase: int = 1
    flops: float = 0.0


@dataclass(frozen=True)
class TaskSpec:
    """Everything a task factory gets, in the task's terms: its own options (the frozen dataclass
    its kind registered, read from the config section named after the kind, e.g. ``[bitswin]``),
    its model / mask / corruption tables, and the few loop settings a task needs."""

    kind: str
    preset: str  # model size preset (tiny | base | large)
    model: Mapping[str, Any]  # model overrides ([model] table)
    mask: Mapping[str, Any]  # [mask] table (bitmask MaskConfig fields)
    corruption: Mapping[str, Any]  # [corruption] table
    options: Any  # the kind's options dataclass (TaskKind.options), None for kinds without
    train_split: Any  # bitcodec CorpusSplit
    run_dir: Path
    seed: int = 0
    eval_seed: int = 0
    total_steps: int = 1  # the length of the schedule and curriculum
    batch_size: int = 1  # global windows per optimizer step
    seq_len: int = 256  # bytes per window
    is_main: bool = True  # rank 0 (the rank that keeps task state such as encoding tables)
    precision: str = "auto"  # the trainer's autocast (auto | fp32 | bf16), for eval views


@runtime_checkable
class TrainTask(Protocol):
    """A trainable model and its step. All members are required; ``TaskBase`` gives the
    defaults of the optional behaviour (no task state, no extra log metrics)."""

    kind: str
    model: torch.nn.Module  # the trainer wraps it in DDP / FSDP2 and moves it

    def loss(
        self, model: Module, windows: Tensor, doc_starts: Tensor, *, step: int, sample_index: Tensor
    ) -> TaskLoss:
        """windows uint8 [B, L], doc_starts bool [B, L] on the device; sample_index long [B]
        (global sample ids: masks are a pure function of (seed, sample, step)). ``model`` may
        be the wrapped module; ``step`` counts steps done before this one (0-based)."""
        ...

    def validate(
        self, model: Module, windows: Tensor, doc_starts: torch.Tensor
    ) -> dict[str, float]:
        """Metrics on fixed validation windows (must include ``bpb``)."""
        ...

    def eval_view(self, model: torch.nn.Module) -> EvalModel:
        """The live model (possibly wrapped) seen as an EvalModel, for validation under the
        evaluation protocols; it may switch the module to eval mode (the caller restores it)."""
        ...

    def phase(self, step: int) -> int:
        """The curriculum phase (1..4) of step ``step``; 1 for tasks without a curriculum."""
        ...

    def planned_flops(self, total_steps: int) -> float:
        """Training FLOPs of a whole run of ``total_steps`` steps of the global batch (every
        forward counted as in TaskLoss.flops), for laying a FLOP budget over steps."""
        ...

    def schedule_state(self, step: int) -> dict[str, Any] | None:
        """What a checkpoint records about the task's schedule at ``step`` (curriculum)."""
        ...

    def log_metrics(self, step: int) -> dict[str, float]:
        """Rank 0's extra numbers for the metrics row of ``step`` (steps done), e.g. the
        encoding table's sizes; not averaged over ranks."""
        ...

    def save_pretrained(self, model: Module, directory: Path) -> None: ...

    def save_state(self, directory: Path) -> None:
        """Task state a checkpoint must hold (encoding table, boundary snapshot...)."""
        ...

    def load_state(self, directory: Path) -> None: ...

    def finalize(self, run_dir: Path) -> None:
        """After training, on rank 0: write what the run directory holds besides the model."""
        ...


class TaskBase:
    """Defaults for the parts of TrainTask that most tasks do not need."""

    def phase(self, step: int) -> int:
        return 1

    def schedule_state(self, step: int) -> dict[str, Any] | None:
        return None

    def log_metrics(self, step: int) -> dict[str, float]:
        return {}

    def save_state(self, directory: Path) -> None:
        return None

    def load_state(self, directory: Path) -> None:
        return None

    def finalize(self, run_dir: Path) -> None:
        return None


# The measurements ask a model what it can do through these protocols (isinstance), never by
# looking for attribute names: a capability is a protocol a class implements.


@runtime_checkable
class EvalModel(Protocol):
    """What every bitbench measurement needs of a trained model (docs/interfaces.md).

    Optional capabilities are separate protocols below; a measurement a model cannot give is
    reported as null.
    """

    kind: str
    model: torch.nn.Module  # the torch module inside (eval mode while measured)

    @property
    def num_params(self) -> int:
        """Parameters of the model."""
        ...

    def masked_bits(
        self, windows: Windows, *, rate: float = 0.15, seed: int = 0
    ) -> tuple[float, int]:
        """Sum of -log2 p(true unit) over a fixed-seed ``rate`` mask, and the bytes covered."""
        ...

    def features(self, texts: list[bytes]) -> np.ndarray:
        """[N, D] pooled frozen features (the probe)."""
        ...

    def flops_per_byte(self, seq_len_bytes: int) -> float:
        """Forward FLOPs per byte at this window length."""
        ...


@runtime_checkable
class ScoresHiddenBytes(Protocol):
    """Byte-granular models (bitswin, the byte baseline): scored byte by byte under the
    evaluation protocols (bittrain.hidden.scores)."""

    def hidden_byte_bits(
        self, windows: Windows, hidden: Flags, *, doc_starts: OptFlags = None, pad: OptFlags = None
    ) -> np.ndarray:
        """float32 [N, L]: -log2 p(true byte | every byte not hidden) at ``hidden``, 0 elsewhere."""
        ...


@runtime_checkable
class ScoresHiddenTokens(Protocol):
    """Token models (BPE, Hugging Face): scored token by token on the same hidden bytes."""

    def hidden_token_bits(
        self,
        windows: Windows,
        hidden: Flags,
        *,
        doc_starts: OptFlags = None,
        pad: OptFlags = None,
        cuts: OptFlags = None,
    ) -> np.ndarray:
        """float32 [N, L]: bits of each hidden token at its first byte, 0 elsewhere."""
        ...

    def token_starts(
        self,
        windows: Windows,
        *,
        doc_starts: OptFlags = None,
        pad: OptFlags = None,
        cuts: OptFlags = None,
    ) -> np.ndarray:
        """bool [N, L]: the first byte of each token of that tokenisation."""
        ...


@runtime_checkable
class HasBoundaries(Protocol):
    """Models with their own unit starts (bitswin): boundary F1, segment, table growing."""

    target_unit_bytes: float  # the mean unit length the model was trained towards

    def boundary_scores(
        self, windows: Windows, *, pad: OptFlags = None, doc_starts: OptFlags = None
    ) -> np.ndarray:
        """float32 [N, L], higher = a unit starts there (only at character starts)."""
        ...

    @property
    def own_starts_threshold(self) -> float | None:
        """The score above which the model itself starts a unit (None: no rule of its own)."""
        ...


@runtime_checkable
class HasAttentionBoundaries(Protocol):
    """Models that give attention maps beside their unit starts (the table's attention feed)."""

    def boundary_with_attention(
        self, windows: Windows, *, doc_starts: OptFlags = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores float32 [N, L], byte-level attention [N, L, 2W-1] or [N, depth, L, 2W-1])."""
        ...


@runtime_checkable
class HasByteStates(Protocol):
    """Models with per-byte representations (consistency)."""

    def byte_states(
        self, windows: Windows, *, pad: OptFlags = None, doc_starts: OptFlags = None
    ) -> np.ndarray:
        """float32 [N, L, D]."""
        ...


@runtime_checkable
class FillsBytes(Protocol):
    """Models that give a distribution over every byte (bitlab fill)."""

    def byte_log_probs(self, data: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        """float [L, 256]: log p(byte) at every position with ``hidden`` (bool [L]) shown as
        MASK."""
        ...


@runtime_checkable
class HasUntrained(Protocol):
    """Models that can be rebuilt with fresh weights (the consistency control)."""

    def untrained(self) -> EvalModel: ...
