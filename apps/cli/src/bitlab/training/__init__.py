"""Curriculum training on torch.distributed: config, loop, launcher, checkpoints, exact resume.

The public entry point is :func:`bitlab.training.run_training`; ``bitlab train`` and
``bitlab baseline train`` are thin CLI wrappers around it. Heavy modules (torch and the packages)
are imported lazily so that ``import bitlab.training`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bitlab.training.config import TrainConfig, load_config

if TYPE_CHECKING:  # pragma: no cover
    from bitlab.training.launcher import LaunchOptions, TrainResult


def run_training(config: TrainConfig, **kwargs: Any) -> TrainResult:
    """Train ``config`` (see :func:`bitlab.training.launcher.run_training` for the options)."""
    from bitlab.training.launcher import run_training as _run

    return _run(config, **kwargs)


__all__ = ["LaunchOptions", "TrainConfig", "TrainResult", "load_config", "run_training"]
