"""What a training command asks for, and the config it resolves to.

``bitlab train``, ``bitlab baseline train``, ``python -m bittrain`` and ``torchrun -m
bittrain.train`` all gather their options into one ``TrainRequest`` and call
:func:`train_request`: the config is a shipped one or a TOML file plus ``--set`` overrides and the
dedicated options, or with ``resume`` the run's own config.toml (a command line that would change
the run is refused, naming the keys, unless ``allow_config_change``). A folder that already
holds a run is only ever continued (``resume``) or, with ``overwrite``, replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bittrain.errors import BittrainError
from bittrain.trainer.config import LEGACY_KEYS, TrainConfig
from bittrain.trainer.config_files import apply_overrides, load_config, parse_override
from bittrain.trainer.launcher import LaunchOptions, TrainResult, run_training
from bittrain.trainer.resume_config import resume_config
from bittrain.trainer.setup import check_resume_or_overwrite

DEFAULT_CONFIG = "tiny"


@dataclass(frozen=True)
class TrainRequest:
    """The options of one training command (None = not given)."""

    config: str | None = None  # shipped config name or TOML file (default tiny)
    overrides: tuple[str, ...] = ()  # --set key=value
    corpus: str | None = None
    out: str | None = None
    resume: bool = False
    overwrite: bool = False  # replace the run already in ``out`` (never without being asked)
    allow_config_change: bool = False
    max_steps: int | None = None
    max_minutes: float | None = None
    max_flops: float | None = None
    init: str | None = None  # start from another run's model
    task: str | None = None  # a baseline kind (bitlab baseline train --kind)
    fields: dict[str, Any] = field(default_factory=dict)  # more dedicated options (table_codes)

    @property
    def budget(self) -> dict[str, Any]:
        return {"max_steps": self.max_steps, "max_minutes": self.max_minutes,
                "max_flops": self.max_flops}  # fmt: skip

    def _fields(self) -> dict[str, Any]:
        return {"corpus": self.corpus, "out": self.out, **self.budget, **self.fields}

    def build(self, source: str) -> TrainConfig:
        """The config this request makes of ``source`` (a shipped name or a TOML file)."""
        if self.task is None:
            return load_config(source, list(self.overrides), **self._fields())
        return _task_config(self.task, source, list(self.overrides), **self._fields())


def _task_config(task: str, source: str, overrides: list[str], **fields: Any) -> TrainConfig:
    """``source`` trained as ``task`` (a baseline kind): the file's [model] table and task
    section were written for its own task, so only the model.* keys given here are kept."""
    for text in overrides:
        key, value = parse_override(text)
        if LEGACY_KEYS.get(key, key) == "task" and value != task:
            raise BittrainError(
                f"--set {key}={value} contradicts --kind {task}: drop the --set (use "
                "`bitlab train` for bitswin runs)"
            )
    cfg = load_config(source, [*overrides, f"task={task}"], **fields)
    if load_config(source).task != task:
        own = apply_overrides({}, [t for t in overrides if t.strip().startswith("model.")])
        cfg = cfg.replace(model_config=own.get("model_config", {}))
    return cfg


def resolve_request(request: TrainRequest) -> TrainConfig:
    """The run's TrainConfig: fresh, or with ``resume`` the run's own (see the module doc)."""
    check_resume_or_overwrite(request.resume, request.overwrite)
    if request.resume:
        if not request.out:
            raise BittrainError("--resume needs --out RUN (the run directory to continue)")
        return resume_config(request.out, request.build, config=request.config,
                             budget=request.budget,
                             allow_changes=request.allow_config_change)  # fmt: skip
    if request.allow_config_change:
        raise BittrainError("--allow-config-change goes with --resume: add --resume or drop it")
    return request.build(request.config or DEFAULT_CONFIG)


def train_request(
    request: TrainRequest, launch: LaunchOptions | None = None, *, progress: bool = True
) -> tuple[TrainConfig, TrainResult]:
    """Resolve and train; returns the config and rank 0's result."""
    config = resolve_request(request)
    result = run_training(
        config,
        resume=request.resume,
        init=request.init,
        launch=launch,
        progress=progress,
        overwrite=request.overwrite,
    )
    return config, result
