"""The one input path of a bitswin model: what it is shown, as tensors.

Training (a bitmask ``MaskedBatch``) and evaluation (true bytes plus a hidden mask) both end
here: ``input_ids`` long [B, 8L] (BIT0/BIT1 where shown, MASK_ID where hidden, PAD_ID on
padding), ``segment_ids`` long [B, L] (document index inside the window) and ``code_ids`` long
[B, L] (encoding-table codes computed from the shown bytes only, -1 = no code). Nothing here ever
reads a hidden byte's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from bitmask import bit_ids
from bittokens import MASK_ID, PAD_ID

from bittrain.engine.codes import TableCodes
from bittrain.errors import BittrainError


def byte_windows(windows: Any) -> np.ndarray:
    """``windows`` as the uint8 array [N, L] every EvalModel reads, or one error naming what
    came instead."""
    arr = np.asarray(windows)
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise BittrainError(
            f"windows must be uint8 [N, L], got {arr.dtype} {arr.shape}: pass bytes "
            "from CorpusSplit.sample_windows"
        )
    return arr


def as_tensor(array: np.ndarray | torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """A numpy array or tensor as a tensor of ``dtype`` (None stays None)."""
    if array is None:
        return None
    if isinstance(array, torch.Tensor):
        return array.to(dtype)
    return torch.from_numpy(np.ascontiguousarray(array)).to(dtype)


def segment_ids(doc_starts: np.ndarray | torch.Tensor | None) -> torch.Tensor | None:
    """bool [B, L] document starts -> long [B, L] document index within each window."""
    starts = as_tensor(doc_starts, torch.long)
    return None if starts is None else torch.cumsum(starts, dim=1)


def shown_ids(
    windows: torch.Tensor,
    *,
    hidden_bytes: torch.Tensor | None = None,
    hidden_bits: torch.Tensor | None = None,
    pad: torch.Tensor | None = None,
) -> torch.Tensor:
    """Model input ids long [B, 8L] for true bytes ``windows`` [B, L]: MASK_ID at hidden bytes
    (bool [B, L]) and hidden bits (bool [B, 8L]), PAD_ID on padding bytes (bool [B, L])."""
    ids = bit_ids(windows)  # [B, 8L]
    if hidden_bits is not None:
        ids = ids.masked_fill(hidden_bits.to(ids.device, torch.bool), MASK_ID)
    if hidden_bytes is not None:
        hide = hidden_bytes.to(ids.device, torch.bool).repeat_interleave(8, dim=1)  # [B, 8L]
        ids = ids.masked_fill(hide, MASK_ID)
    if pad is not None:
        ids = ids.masked_fill(pad.to(ids.device, torch.bool).repeat_interleave(8, dim=1), PAD_ID)
    return ids


@dataclass(frozen=True)
class ModelInputs:
    """The keyword inputs of one bitswin forward (shapes in the module docstring)."""

    input_ids: torch.Tensor
    segment_ids: torch.Tensor | None = None
    code_ids: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> ModelInputs:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return ModelInputs(self.input_ids.to(device), move(self.segment_ids), move(self.code_ids))


def model_inputs(
    input_ids: torch.Tensor,
    doc_starts: np.ndarray | torch.Tensor | None,
    codes: TableCodes | None = None,
) -> ModelInputs:
    """Inputs from shown bit ids [B, 8L] (a MaskedBatch's ``input_ids`` or ``shown_ids``)."""
    seg = segment_ids(doc_starts)
    if seg is not None:
        seg = seg.to(input_ids.device)
    code_ids = None if codes is None else codes(input_ids)
    return ModelInputs(input_ids, seg, code_ids)


def forward(
    model: torch.nn.Module,
    inputs: ModelInputs,
    *,
    targets: Any = None,
    return_attention: bool = False,
) -> Any:
    """One bitswin forward on ``inputs`` (``targets``: a MaskedBatch, for the losses)."""
    return model(
        inputs.input_ids,
        segment_ids=inputs.segment_ids,
        code_ids=inputs.code_ids,
        targets=targets,
        return_attention=return_attention,
    )
