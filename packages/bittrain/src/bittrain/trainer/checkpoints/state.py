"""Moving training state between the live (possibly DDP- or FSDP-wrapped) objects and files.

DDP and single-process runs hold the full model and optimizer on every rank: their plain
``state_dict`` is saved by rank 0. FSDP2 runs gather full state dicts with
``torch.distributed.checkpoint.state_dict`` (a collective: every rank calls it) so that a
checkpoint looks the same whatever the parallelism and world size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)

from bittrain.errors import BittrainError
from bittrain.trainer.checkpoints.files import (
    OPTIMIZER_META,
    OPTIMIZER_TENSORS,
    RNG_FILE,
    flatten_optimizer_state,
    load_tensors,
    read_json,
    save_tensors,
    unflatten_optimizer_state,
    write_json_atomic,
)


def _options(**kw: Any):
    return StateDictOptions(**kw)


def full_model_state(model: torch.nn.Module, plain: torch.nn.Module, fsdp: bool) -> dict[str, Any]:
    """Full model state dict (on every rank for DDP; on rank 0 for FSDP, others get {})."""
    if not fsdp:
        return plain.state_dict()
    return get_model_state_dict(model, options=_options(full_state_dict=True, cpu_offload=True))


def full_optimizer_state(model, optimizer, fsdp: bool) -> dict[str, Any]:
    if not fsdp:
        return optimizer.state_dict()
    return get_optimizer_state_dict(
        model, optimizer, options=_options(full_state_dict=True, cpu_offload=True)
    )


def save_optimizer(directory: Path, state: dict[str, Any]) -> None:
    tensors, meta = flatten_optimizer_state(state)
    save_tensors(directory / OPTIMIZER_TENSORS, tensors)
    write_json_atomic(directory / OPTIMIZER_META, meta)


def load_optimizer(directory: Path, model, optimizer, fsdp: bool) -> None:
    tensors = load_tensors(directory / OPTIMIZER_TENSORS)
    state = unflatten_optimizer_state(tensors, read_json(directory / OPTIMIZER_META))
    if not fsdp:
        optimizer.load_state_dict(state)
        return
    set_optimizer_state_dict(model, optimizer, state, options=_options(full_state_dict=True))


def load_model_weights(module: torch.nn.Module, path: Path) -> None:
    """Load a plain state dict saved as safetensors into an unwrapped, unsharded module."""
    state = load_tensors(path)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "mismatch"
        raise BittrainError(
            f"weights '{path}' do not fit this model ({first}): use the same model config"
        ) from None


# -- RNG -----------------------------------------------------------------------------------------


def rng_state() -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def save_rng(directory: Path, per_rank: list[dict[str, torch.Tensor]]) -> None:
    tensors = {
        f"rank_{rank}.{kind}": value
        for rank, state in enumerate(per_rank)
        for kind, value in state.items()
    }
    save_tensors(directory / RNG_FILE, tensors)


def restore_rng(directory: Path, rank: int) -> bool:
    """Restore this rank's RNG state if the checkpoint has one for it (same world size)."""
    path = directory / RNG_FILE
    if not path.is_file():
        return False
    tensors = load_tensors(path)
    cpu = tensors.get(f"rank_{rank}.cpu")
    if cpu is None:
        return False
    torch.set_rng_state(cpu)
    cuda = tensors.get(f"rank_{rank}.cuda")
    if cuda is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda)
    return True
