"""Run a planned ablation: build the encoding tables the grid names, then for every (run, seed)
train it (``bittrain.run_training``, resumed where it was cut) and score it on every yardstick
(``ablation.scoring``); one result row per (run, seed).

``jobs > 1`` trains that many runs at once, each in its own process with its share of the CPU
threads: the FLOPs of every run stay what the grid says, but their wall-clock times are then not
comparable (the runs share the cores), which the result says.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from bitcodec.corpus_reader import open_corpus
from bittrain.fileio import read_json, write_json_atomic
from bittrain.trainer.launcher import LaunchOptions

from bitbench.ablation.grid import AblationGrid
from bitbench.ablation.plan import FINISHED, PLANNED, UNAVAILABLE, PlannedRun, changes_text
from bitbench.ablation.scoring import SCORES_DIR, Stage, forget_scores, score_run
from bitbench.ablation.tables import build_referenced_tables
from bitbench.ablation.training import train_run

log = logging.getLogger(__name__)

TRAIN_FILE = "train.json"  # in RUN/scores: the training session's result
# (label, stage): where a run is ("train", a stage key, "done")
Progress = Callable[[str, str], None]


def prepare_tables(
    grid: AblationGrid, planned: list[PlannedRun], corpus: str | Path, out: str | Path
) -> list[Path]:
    """Build the encoding tables the runs still to train name (once; reused when present)."""
    to_train = [p.overrides for p in planned if p.status == PLANNED]
    if not grid.tables or not to_train:
        return []
    return build_referenced_tables(grid.tables, to_train, open_corpus(str(corpus)), out)


@dataclass(frozen=True)
class Job:
    """Everything one (run, seed) needs, picklable for a worker process."""

    grid: AblationGrid
    planned: PlannedRun
    corpus: str
    stages: tuple[Stage, ...]
    device: str
    launch: LaunchOptions
    jobs: int = 1  # runs trained at once (recorded: wall-clock is comparable only at 1)
    threads: int = 0  # torch threads of a worker process (0 = leave as is)
    show_training: bool = False


def _row(planned: PlannedRun) -> dict[str, Any]:
    return {
        "name": planned.name,
        "seed": planned.seed,
        "ablations": list(planned.run.ablations),
        "changes": changes_text(planned.run),
        "overrides": planned.run.overrides,
        "note": planned.run.note,
        "run_dir": str(planned.run_dir),
        "status": planned.status,
        "reason": planned.reason,
        "steps": None,
        "train_flops": None,
        "train_s": None,
        "jobs": None,
        "resumed": False,
        "stages": {},
        "metrics": {},
    }


def _train(job: Job, row: dict[str, Any]) -> None:
    item = job.planned
    forget_scores(item.run_dir)
    started = time.monotonic()
    result = train_run(job.grid, item.overrides, item.run_dir, job.corpus, launch=job.launch,
                       progress=job.show_training)  # fmt: skip
    record = {"status": result.get("status"), "steps": result.get("step"),
              "train_flops": result.get("train_flops"),
              "elapsed_s": float(result.get("elapsed_s") or time.monotonic() - started),
              "jobs": job.jobs}  # fmt: skip
    write_json_atomic(item.run_dir / SCORES_DIR / TRAIN_FILE, record)


def run_job(job: Job, report: Progress | None = None) -> dict[str, Any]:
    """Train (when needed) and score one (run, seed); failures are recorded in the row."""
    say = report or (lambda label, stage: None)
    item = job.planned
    row = _row(item)
    if item.status == UNAVAILABLE:
        return row
    if job.threads:
        torch.set_num_threads(job.threads)
    try:
        if item.status == PLANNED:
            say(item.label, "train")
            _train(job, row)
        say(item.label, "score")
        scores = score_run(item.run_dir, job.corpus, list(job.stages), device=job.device,
                           report=lambda stage: say(item.label, stage))  # fmt: skip
    except Exception as exc:  # record and go on: the other runs still answer their question
        log.warning("ablation run %s failed: %s: %s", item.label, type(exc).__name__, exc)
        row.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
        return row
    trained = item.run_dir / SCORES_DIR / TRAIN_FILE
    if trained.is_file():
        record = read_json(trained)
        row.update(steps=record.get("steps"), train_flops=record.get("train_flops"),
                   train_s=record.get("elapsed_s"), jobs=record.get("jobs", 1))  # fmt: skip
        if record.get("status") == "time":
            row["reason"] = "stopped at the time limit (max_minutes) before its FLOP budget"
    for key, result in scores.items():
        row["stages"][key] = {"status": result["status"], "reason": result.get("reason", "")}
        row["metrics"].update(result.get("metrics", {}))
    failed = [k for k, r in scores.items() if r["status"] == "failed"]
    row["status"] = "ok" if not failed else f"failed: {', '.join(failed)}"
    row["resumed"] = item.status == FINISHED  # skipped: trained and scored before
    say(item.label, "done")
    return row


def _job_in_worker(job: Job, events: Any) -> dict[str, Any]:
    return run_job(job, lambda label, stage: events.put((label, stage)))


def run_ablation(
    grid: AblationGrid,
    planned: list[PlannedRun],
    corpus: str | Path,
    stages: list[Stage],
    *,
    jobs: int = 1,
    launch: LaunchOptions | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
    show_training: bool = False,
) -> list[dict[str, Any]]:
    """Every (run, seed) of the plan, in plan order (see the module doc)."""
    launch = launch or LaunchOptions()
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else 0
    todo = [Job(grid, p, str(corpus), tuple(stages), device, launch, max(jobs, 1), threads,
                show_training and jobs == 1) for p in planned]  # fmt: skip
    if jobs <= 1:
        return [run_job(job, progress) for job in todo]
    rows: dict[int, dict[str, Any]] = {}
    context = multiprocessing.get_context("spawn")  # no forked torch state in the workers
    with context.Manager() as manager, ProcessPoolExecutor(jobs, mp_context=context) as pool:
        events = manager.Queue()
        futures = {pool.submit(_job_in_worker, job, events): i for i, job in enumerate(todo)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            _drain(events, progress)
            for future in done:
                rows[futures[future]] = _result_or_failure(future, todo[futures[future]])
        _drain(events, progress)
    return [rows[i] for i in range(len(todo))]


def _drain(events: Any, progress: Progress | None) -> None:
    while True:
        try:
            label, stage = events.get_nowait()
        except queue.Empty:
            return
        if progress is not None:
            progress(label, stage)


def _result_or_failure(future: Any, job: Job) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as exc:  # the worker process itself died
        row = _row(job.planned)
        row.update(status="failed", reason=f"worker: {type(exc).__name__}: {exc}")
        return row


__all__ = ["Job", "prepare_tables", "run_ablation", "run_job"]
