"""Training for bitlab's models.

- :mod:`bittrain.engine`: the contracts (TrainTask, TaskSpec, EvalModel...), the registry of task
  kinds, the model-input path and the unit-start recipe that training and evaluation share;
- :mod:`bittrain.tasks`: the built-in task kinds (``bitswin``, ``byte``, ``bpe``, ``hf-bert``):
  one training step and one evaluation view per kind;
- :mod:`bittrain.hidden`: which bytes an evaluation protocol hides and how hidden spans are
  scored (validation during training uses the evaluation's definitions);
- :mod:`bittrain.trainer`: the loop, checkpoints, distributed launch, FLOP budget, configs.

Train from Python::

    from bittrain import load_config, run_training

    config = load_config("tiny", ["max_steps=20"], corpus="corpus.zarr", out="runs/py")
    result = run_training(config)

The names below load their modules on first use, so that ``import bittrain.logs`` (the CLI's
start-up) does not pay for torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "TrainConfig": "bittrain.trainer.config",
    "load_config": "bittrain.trainer.config_files",
    "LaunchOptions": "bittrain.trainer.launcher",
    "TrainResult": "bittrain.trainer.launcher",
    "run_training": "bittrain.trainer.launcher",
    "load_run": "bittrain.runs",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bittrain' has no attribute {name!r}")
