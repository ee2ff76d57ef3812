"""Curriculum training on torch.distributed: config, loop, launcher, checkpoints, exact resume.

The public entry point is :func:`bitlab.training.run_training`; ``bitlab train`` and
``bitlab baseline train`` are thin CLI wrappers around it (the commands import this package only
when they run, so ``bitlab --help`` stays cheap).
"""

from __future__ import annotations

from bitlab.training.config import TrainConfig, load_config
from bitlab.training.launcher import LaunchOptions, TrainResult, run_training

__all__ = ["LaunchOptions", "TrainConfig", "TrainResult", "load_config", "run_training"]
