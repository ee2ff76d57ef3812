"""Scoring one ablation run on every yardstick of the grid: bpb under every protocol
(``bitbench.evaluate``), QA per dataset (``bitbench.qa.run.run_qa``), the classification probe per
dataset (``bitbench.probe.run_probe``) and unsupervised segmentation per gold file (SIGHAN word F,
``bitbench.boundaries.evaluate_segmented`` with the model's own signal).

Each stage of a run is saved in RUN/scores/<stage>.json with the settings it was measured with;
a later call reuses it when the settings are the same (``--resume``), and measures it again when
they differ. A stage whose data file is absent is skipped, with the reason, and not saved (it runs
once the data is there). Retraining a run deletes its scores.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bittrain.fileio import clean_for_json, read_json, write_json_atomic
from bittrain.runs import load_run

from bitbench.ablation.grid import AblationGrid
from bitbench.ablation.score_config import ProbeData, SegmentData, data_path, qa_settings
from bitbench.boundaries import evaluate_segmented, read_gold_words
from bitbench.evaluate import EvalSettings, can_segment, evaluate_run, write_outputs
from bitbench.probe import cap_rows, read_labelled, run_probe, split_holdout
from bitbench.qa.dataset import prepare_data
from bitbench.qa.run import run_qa
from bitbench.seg_decode import DecodeOptions
from bitbench.seg_rules import SegmentRules
from bitbench.seg_signals import make_scorer
from bitbench.sighan import read_word_list

log = logging.getLogger(__name__)

SCORES_DIR = "scores"
OK, SKIPPED, FAILED = "ok", "skipped", "failed"
BPB_KEYS = ("acc_bit", "acc_byte", "acc_word", "acc_phrase", "boundary_f1", "consistency_auc")
Report = Callable[[str], None]


@dataclass(frozen=True)
class Stage:
    """One yardstick on one dataset: ``key`` names its file and its columns' prefix."""

    key: str  # bpb | qa_<name> | probe_<name> | segment_<name>
    kind: str  # bpb | qa | probe | segment
    name: str  # the dataset's name in the grid ("" for bpb)
    settings: dict[str, Any]  # JSON: everything the result depends on (the cache key)
    files: tuple[str, ...] = ()  # data files it reads; one absent -> skipped


def plan_stages(grid: AblationGrid, corpus: str | Path, data_root: str | None) -> list[Stage]:
    """The grid's stages in table order, their data paths resolved under ``data_root``."""
    score, root = grid.score, data_root if data_root is not None else grid.data_root
    stages: list[Stage] = []
    if "bpb" in score.stages:
        settings = {"eval": grid.eval, "corpus": str(Path(corpus).resolve())}
        stages.append(Stage("bpb", "bpb", "", settings))
    if "qa" in score.stages:
        common = {k: v for k, v in dataclasses.asdict(score.qa).items() if k != "datasets"}
        for name, file in score.qa.datasets.items():
            path = str(data_path(file, root))
            stages.append(Stage(f"qa_{name}", "qa", name, {**common, "data": path}, (path,)))
    if "probe" in score.stages:
        common = {k: v for k, v in dataclasses.asdict(score.probe).items() if k != "datasets"}
        for name, item in score.probe.datasets.items():
            files = tuple(str(data_path(f, root)) for f in (item.train, item.test) if f)
            data = {**dataclasses.asdict(item), "train": files[0],
                    "test": files[1] if item.test else ""}  # fmt: skip
            stages.append(Stage(f"probe_{name}", "probe", name, {**common, **data}, files))
    if "segment" in score.stages:
        common = {k: v for k, v in dataclasses.asdict(score.segment).items() if k != "datasets"}
        for name, item in score.segment.datasets.items():
            files = tuple(str(data_path(f, root)) for f in (item.gold, item.dict) if f)
            data = {"gold": files[0], "dict": files[1] if item.dict else ""}
            stages.append(Stage(f"segment_{name}", "segment", name, {**common, **data}, files))
    return stages


def missing_data(stage: Stage) -> str:
    """Why ``stage`` cannot run here ("" when its data files are all present)."""
    absent = [f for f in stage.files if not Path(f).is_file()]
    if not absent:
        return ""
    return (f"data file {absent[0]} not found (point data_root or --data-root at your copy of "
            "the grid's [score] data)")  # fmt: skip


def _stage_file(run_dir: Path, stage: Stage) -> Path:
    return run_dir / SCORES_DIR / f"{stage.key}.json"


def cached(run_dir: Path, stage: Stage) -> dict[str, Any] | None:
    """The saved result of ``stage`` when it was measured with the same settings."""
    path = _stage_file(run_dir, stage)
    if not path.is_file():
        return None
    saved = read_json(path)
    return saved if saved.get("settings") == clean_for_json(stage.settings) else None


def is_scored(run_dir: Path, stages: list[Stage]) -> bool:
    """Every stage whose data is here has a result with the current settings."""
    return all(missing_data(s) or cached(run_dir, s) is not None for s in stages)


def forget_scores(run_dir: Path) -> None:
    """A run trained (again) is scored again: its saved scores describe another model."""
    shutil.rmtree(run_dir / SCORES_DIR, ignore_errors=True)


# -- the four yardsticks -------------------------------------------------------------------------


def _bpb(run_dir: Path, stage: Stage, corpus: str, device: str, report: Report) -> dict:
    settings = EvalSettings(**stage.settings["eval"])
    evaluation = evaluate_run(run_dir, corpus=corpus, settings=settings, device=device,
                              progress=lambda part: report(f"bpb: {part}"))  # fmt: skip
    write_outputs(evaluation, run_dir / "eval", None)
    m = evaluation.metrics
    out = {f"bpb_{p}": m.get(f"bpb_{p}") for p in settings.protocols}
    out.update({f"bpb_{p}_one_pass": m.get(f"bpb_{p}_one_pass") for p in settings.protocols})
    out.update({k: m.get(k) for k in BPB_KEYS})
    out["hidden_digest"] = m.get("hidden_digest")
    return out


def _qa(run_dir: Path, stage: Stage, device: str, report: Report) -> dict:
    s = stage.settings
    data = prepare_data([s["data"]], test_fraction=s["test_fraction"], seed=s["seed"],
                        max_questions=s["max_questions"], train_questions=s["train_questions"],
                        no_answer=False)  # fmt: skip
    settings = qa_settings(s)

    def step(run: str, part: str, done: int, total: int) -> None:
        report(f"qa {stage.name}: {part} {done}/{total}")

    result = run_qa([(str(run_dir), lambda: load_run(run_dir, device=device))], data, settings,
                    step)  # fmt: skip
    out: dict[str, Any] = {f"qa_{stage.name}_n": data.describe().get("test_questions_used")}
    for mode, r in result["runs"][0]["modes"].items():
        out[f"qa_{stage.name}_{mode}_f1"] = r["f1"]
        out[f"qa_{stage.name}_{mode}_em"] = r["exact"]
    window = result["floors"].get("window", {})
    out[f"qa_{stage.name}_floor_f1"] = window.get("f1")
    return out


def _probe(run_dir: Path, stage: Stage, device: str, report: Report) -> dict:
    s = stage.settings
    item = ProbeData(**{k: s[k] for k in ("train", "test", "test_fraction", "text_col",
                                          "label_col")})  # fmt: skip
    columns = {"text_col": item.text_col or None, "label_col": item.label_col or None}
    train = read_labelled(item.train, **columns)
    if item.test:
        test = read_labelled(item.test, **columns)
    else:
        train, test = split_holdout(train, item.test_fraction, s["seed"])
    train, test = (
        cap_rows(train, s["max_train"], s["seed"]),
        cap_rows(test, s["max_test"], s["seed"]),
    )
    model = load_run(run_dir, device=device)
    result = run_probe(model, train, test, folds=s["folds"], seed=s["seed"],
                       progress=lambda part, done, total: report(
                           f"probe {stage.name}: {part} {done}/{total}"))  # fmt: skip
    return {f"probe_{stage.name}_acc": result["accuracy"],
            f"probe_{stage.name}_macro_f1": result["macro_f1"],
            f"probe_{stage.name}_majority": result["majority_baseline"],
            f"probe_{stage.name}_n": len(test)}  # fmt: skip


def _segment(run_dir: Path, stage: Stage, device: str, report: Report) -> dict:
    s = stage.settings
    item = SegmentData(gold=s["gold"], dict=s["dict"])
    model = load_run(run_dir, device=device)
    if not can_segment(model, s["signal"]):
        raise _SkipStageError(
            f"a {model.kind} model gives no '{s['signal']}' signal to segment with"
        )
    gold = read_gold_words(item.gold, s["lines"])
    dictionary = read_word_list(item.dict) if item.dict else None
    report(f"segment {stage.name}: {len(gold)} lines")
    result = evaluate_segmented(
        model, gold, options=DecodeOptions(), rules=SegmentRules(), seq_len=s["seq_len"],
        dictionary=dictionary, scorer=make_scorer(model, s["signal"], s["seq_len"]),
    ).metrics  # fmt: skip
    prefix = f"segment_{stage.name}"
    return {f"{prefix}_word_f": result["word_f1"], f"{prefix}_boundary_f1": result["boundary_f1"],
            f"{prefix}_oov_recall": result.get("oov_recall"), f"{prefix}_lines": len(gold)}  # fmt: skip


class _SkipStageError(Exception):
    """A stage that cannot be measured on this model (reported as skipped)."""


def score_run(
    run_dir: Path, corpus: str | Path, stages: list[Stage], *, device: str = "cpu",
    report: Report | None = None,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Every stage of one trained run: {stage key: {"status", "reason", "metrics", "seconds"}}.
    Saved results with the same settings are reused; a failing stage is recorded, not raised."""
    say = report or (lambda text: None)
    out: dict[str, dict[str, Any]] = {}
    for stage in stages:
        saved = cached(run_dir, stage)
        if saved is not None:
            out[stage.key] = {**saved, "reused": True}
            continue
        why = missing_data(stage)
        if why:
            out[stage.key] = {"status": SKIPPED, "reason": why, "metrics": {}}
            continue
        say(stage.key)
        start = time.monotonic()
        try:
            if stage.kind == "bpb":
                metrics = _bpb(run_dir, stage, str(corpus), device, say)
            else:
                fn = {"qa": _qa, "probe": _probe, "segment": _segment}[stage.kind]
                metrics = fn(run_dir, stage, device, say)
        except _SkipStageError as exc:
            out[stage.key] = {"status": SKIPPED, "reason": str(exc), "metrics": {}}
            continue
        except Exception as exc:  # one yardstick failing does not lose the others
            log.warning("scoring %s on %s failed: %s: %s", run_dir, stage.key,
                        type(exc).__name__, exc)  # fmt: skip
            out[stage.key] = {"status": FAILED, "reason": f"{type(exc).__name__}: {exc}",
                              "metrics": {}}  # fmt: skip
            continue
        result = clean_for_json({"settings": stage.settings, "status": OK, "reason": "",
                                 "metrics": metrics, "seconds": time.monotonic() - start})  # fmt: skip
        write_json_atomic(_stage_file(run_dir, stage), result)
        out[stage.key] = result
    return out
