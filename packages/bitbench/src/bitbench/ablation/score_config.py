"""The ``[score]`` section of a grid: what every run is scored on besides bpb, on which data.

```toml
data_root = "../shared/data"      # top level: relative data paths are read under it
                                  # (`bitlab ablate --data-root DIR` points at your copies)
[score]
stages = ["bpb", "qa", "probe", "segment"]   # which yardsticks (default: all four)

[score.qa]                        # bitbench.qa.run.run_qa on a fixed subset of each dataset
modes = ["probe", "cloze"]
max_questions = 400               # test questions (and at most this many training ones)
datasets = { squad = "qa_squad2/dev-v2.0.json", cmrc = "qa_cmrc2018/cmrc2018_dev.json" }

[score.probe]                     # bitbench.probe.run_probe (frozen features, linear probe)
max_train = 2000
max_test = 500
[score.probe.datasets.sst2]
train = "cls_sst2/train.tsv"
test = "cls_sst2/dev.tsv"
[score.probe.datasets.chnsenticorp]
train = "cls_chnsenticorp/ChnSentiCorp_htl_all.csv"   # no test file: hold out test_fraction

[score.segment]                   # SIGHAN word F of the model's own segmentation (bitbench.segment)
lines = 300
[score.segment.datasets.pku]
gold = "cws_sighan2005_pku/pku_test_gold.utf8"
dict = "cws_sighan2005_pku/pku_training_words.utf8"
```

Every field has a default (below); a dataset whose file is absent is skipped at scoring time,
with the reason, never an error: the grid still runs where only some data is present.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bitbench.errors import BitbenchError
from bitbench.qa.run import QASettings
from bitbench.qa.windows import WindowSettings

STAGES = ("bpb", "qa", "probe", "segment")


@dataclass(frozen=True)
class QAScore:
    modes: tuple[str, ...] = ("probe", "cloze")
    max_questions: int = 400  # test questions per dataset (a fixed, seeded subset)
    train_questions: int = 400  # training questions of the probe head
    test_fraction: float = 0.25
    window: int = 384
    stride: int = 128
    max_question_bytes: int = 96
    probe_iterations: int = 200
    cloze_steps: int = 4
    batch_size: int = 16
    seed: int = 0
    datasets: dict[str, str] = field(default_factory=dict)  # name -> SQuAD-format file


@dataclass(frozen=True)
class ProbeData:
    train: str
    test: str = ""  # "" = hold out test_fraction of train
    test_fraction: float = 0.2
    text_col: str = ""
    label_col: str = ""


@dataclass(frozen=True)
class ProbeScore:
    max_train: int = 2000
    max_test: int = 500
    folds: int = 5
    seed: int = 0
    datasets: dict[str, ProbeData] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentData:
    gold: str
    dict: str = ""  # the training word list (OOV / IV recall); "" = none


@dataclass(frozen=True)
class SegmentScore:
    lines: int = 300  # first N gold lines
    signal: str = "head"  # bitbench.seg_signals: the model signal that decides the cuts
    seq_len: int = 512
    datasets: dict[str, SegmentData] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreSettings:
    stages: tuple[str, ...] = STAGES
    qa: QAScore = field(default_factory=QAScore)
    probe: ProbeScore = field(default_factory=ProbeScore)
    segment: SegmentScore = field(default_factory=SegmentScore)


def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _build(cls: type, raw: Any, where: str, **given: Any) -> Any:
    """``cls(**raw)`` with one-line errors: not a table, an unknown key, a wrong type."""
    if not isinstance(raw, dict):
        raise BitbenchError(f"grid {where} must be a table")
    known = _fields(cls)
    for key in raw:
        if key not in known or key in given:
            allowed = [k for k in known if k not in given]
            raise BitbenchError(f"grid {where}: unknown key '{key}': use {', '.join(allowed)}")
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in raw and f.name not in given:
            raise BitbenchError(f'grid {where} needs {f.name} = "..." (a file path)')
    values: dict[str, Any] = {**raw, **given}
    for f in dataclasses.fields(cls):
        if f.name not in raw or f.name in given:
            continue
        value, default = raw[f.name], getattr(cls, f.name, None)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise BitbenchError(f"grid {where}.{f.name} must be a list of strings")
            values[f.name] = tuple(value)
        elif isinstance(default, bool) or f.type == "bool":
            if not isinstance(value, bool):
                raise BitbenchError(f"grid {where}.{f.name} must be true or false")
        elif f.type in ("int", "float"):
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or (f.type == "int" and not isinstance(value, int)):
                raise BitbenchError(f"grid {where}.{f.name} must be a number, got {value!r}")
            if value < 0:
                raise BitbenchError(f"grid {where}.{f.name} must be >= 0, got {value!r}")
        elif f.type == "str" and not isinstance(value, str):
            raise BitbenchError(f"grid {where}.{f.name} must be a string, got {value!r}")
    return cls(**values)


def _datasets(raw: Any, where: str, build: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BitbenchError(f"grid {where}.datasets must be a table of name = ...")
    return {str(name): build(value, f"{where}.datasets.{name}") for name, value in raw.items()}


def _path(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BitbenchError(f"grid {where} must be a file path (a string)")
    return value


def _yardstick(cls: type, data_cls: type, raw: Any, where: str) -> Any:
    """A [score.<yardstick>] table: its own keys, and its datasets each read as ``data_cls``."""
    raw = dict(raw)
    settings = {k: v for k, v in raw.items() if k != "datasets"}
    datasets = _datasets(raw.get("datasets", {}), where, lambda v, w: _build(data_cls, v, w))
    return _build(cls, settings, where, datasets=datasets)


def parse_score(raw: Any, source: str) -> ScoreSettings:
    """The [score] table of a grid file (see the module doc)."""
    where = f"'{source}' [score]"
    if not isinstance(raw, dict):
        raise BitbenchError(f"grid {where} must be a table")
    known = ("stages", "qa", "probe", "segment")
    for key in raw:
        if key not in known:
            raise BitbenchError(f"grid {where}: unknown key '{key}': use {', '.join(known)}")
    stages = raw.get("stages", list(STAGES))
    if isinstance(stages, str):
        stages = [stages]
    bad = [s for s in stages if s not in STAGES] if isinstance(stages, list) else [stages]
    if bad or not stages:
        raise BitbenchError(f"grid {where}.stages {bad or stages!r}: use some of {STAGES}")
    qa_raw = dict(raw.get("qa", {}))
    qa = _build(QAScore, {k: v for k, v in qa_raw.items() if k != "datasets"}, f"{where}.qa",
                datasets=_datasets(qa_raw.get("datasets", {}), f"{where}.qa", _path))  # fmt: skip
    bad_modes = [m for m in qa.modes if m not in ("probe", "finetune", "cloze")]
    if bad_modes or not qa.modes:
        raise BitbenchError(f"grid {where}.qa.modes {bad_modes}: use probe, finetune or cloze")
    try:
        qa_settings(dataclasses.asdict(qa)).check()
    except BitbenchError as exc:
        raise BitbenchError(f"grid {where}.qa: {exc}") from None
    probe = _yardstick(ProbeScore, ProbeData, raw.get("probe", {}), f"{where}.probe")
    segment = _yardstick(SegmentScore, SegmentData, raw.get("segment", {}), f"{where}.segment")
    for name, value in (("qa.max_questions", qa.max_questions), ("segment.lines", segment.lines),
                        ("probe.max_train", probe.max_train)):  # fmt: skip
        if value < 1:
            raise BitbenchError(f"grid {where}.{name} must be >= 1")
    return ScoreSettings(tuple(dict.fromkeys(stages)), qa, probe, segment)


def qa_settings(s: dict[str, Any]) -> QASettings:
    """bitbench.qa's settings from a [score.qa] table (as a dict: a Stage's settings)."""
    return QASettings(
        modes=tuple(s["modes"]),
        windows=WindowSettings(s["window"], s["stride"], s["max_question_bytes"]),
        seed=s["seed"], probe_iterations=s["probe_iterations"], cloze_steps=s["cloze_steps"],
        batch_size=s["batch_size"],
    )  # fmt: skip


def data_path(path: str, data_root: str | Path | None) -> Path:
    """A data file of the grid: absolute as given, relative under ``data_root`` (else the
    working directory)."""
    p = Path(path).expanduser()
    if p.is_absolute() or not data_root:
        return p
    return Path(data_root).expanduser() / p
