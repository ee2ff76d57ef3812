"""What drives a model, below both the trainer (apps/cli) and bitbench's measurements.

- :mod:`.protocols`: TrainTask, TaskLoss, TaskSpec, EvalModel (the contracts, in code);
- :mod:`.registry`: the task kinds (``register_task``), built-ins in :mod:`bittrain.tasks`;
- :mod:`.inputs`: the one input path of a bitswin model (bit ids, segment ids, table codes);
- :mod:`.codes`: table codes from the shown bytes only;
- :mod:`.boundaries`: the one boundary-score recipe;
- :mod:`.precision`: autocast for every kind; :mod:`.modules`: unwrapping DDP/compile.
"""

from bittrain.engine.codes import TableCodes
from bittrain.engine.contracts import (
    EvalModel,
    HasBoundaries,
    HasByteStates,
    TaskBase,
    TaskLoss,
    TaskSpec,
    TrainTask,
)
from bittrain.engine.inputs import (
    ModelInputs,
    byte_windows,
    forward,
    model_inputs,
    segment_ids,
    shown_ids,
)
from bittrain.engine.modules import eval_mode, lookup_parameters, model_device, unwrap
from bittrain.engine.precision import autocast
from bittrain.engine.registry import (
    TaskKind,
    build_task,
    check_spec,
    register_task,
    task_kind,
    task_kinds,
)
from bittrain.engine.unit_scores import (
    BOUNDARY_SOURCES,
    OWN_STARTS_THRESHOLD,
    BoundaryScores,
    boundary_scores,
    own_starts_threshold,
)

__all__ = [
    "BOUNDARY_SOURCES",
    "OWN_STARTS_THRESHOLD",
    "BoundaryScores",
    "EvalModel",
    "HasBoundaries",
    "HasByteStates",
    "ModelInputs",
    "TableCodes",
    "TaskBase",
    "TaskKind",
    "TaskLoss",
    "TaskSpec",
    "TrainTask",
    "autocast",
    "boundary_scores",
    "build_task",
    "byte_windows",
    "check_spec",
    "eval_mode",
    "forward",
    "lookup_parameters",
    "model_device",
    "model_inputs",
    "own_starts_threshold",
    "register_task",
    "segment_ids",
    "shown_ids",
    "task_kind",
    "task_kinds",
    "unwrap",
]
