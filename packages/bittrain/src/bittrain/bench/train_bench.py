"""`bitlab bench train`: how well training uses the machine, per model kind.

For each case (bitswin tiny and base, the byte, BPE and Hugging Face BERT baselines; 16 windows
of 256 bytes on the project's sample corpus, late in the curriculum): training steps per
second, the task's own FLOPs per step (the count every equal-FLOP comparison uses; torch's
FlopCounterMode over one step beside it), achieved FLOP/s and its ratio to a 1024^3 fp32
matmul measured in the same process (``timing``), the time of a step split by stage, forward and
backward (``stages``), and peak memory. Returns bench rows (bitswin.bench_rows) plus the raw
numbers under ``cases``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from bitcodec.corpus_reader import open_corpus
from bitswin.bench_rows import bench_row
from bitswin.memtrack import peak_memory_bytes

from bittrain.bench.cases import (
    FULL_CASES,
    QUICK_CASES,
    RUN_FRACTION,
    BenchCase,
    PreparedCase,
    prepare,
)
from bittrain.bench.cases import train_step as run_step
from bittrain.bench.stages import profile_stages
from bittrain.bench.timing import MatmulReference, Timing, timed_rounds
from bittrain.engine.flop_count import flop_counter_mode
from bittrain.errors import BittrainError
from bittrain.fixtures import write_sample_corpus

log = logging.getLogger(__name__)

WARMUP_STEPS = 2
# Compiled: the first step compiles with the batch's sizes, the first batch whose sizes differ
# (distinct bit patterns, selected bytes) recompiles them as dynamic; after that none should.
COMPILED_WARMUP_STEPS = 5
FULL = {"batch_size": 16, "seq_len": 256, "rounds": 5, "profiled": 2}
QUICK = {"batch_size": 4, "seq_len": 128, "rounds": 2, "profiled": 1}
# What a case goes through, in order; a progress callback hears (case name, phase) before each.
PHASES = ("warm-up", "timed steps", "FLOP count", "profile", "peak memory")
Progress = Callable[[str, str], None]


def _case_rows(p: PreparedCase, timing: Timing, counted: float, measured: float,
               stages: Any, peak: int) -> list[dict[str, Any]]:  # fmt: skip
    name, target = p.case.name, p.case.target
    lo, mid, hi = timing.ratio_spread
    rows = [
        bench_row(name, "training steps/s", 1.0 / timing.best_seconds, "steps/s"),
        bench_row(name, "bytes/s", p.bytes_per_step / timing.best_seconds, "bytes/s"),
        bench_row(
            name, "FLOPs per step (task count vs FlopCounterMode)", counted, "FLOP", measured
        ),
        bench_row(
            name,
            f"achieved FLOP/s vs 1024^3 matmul (rounds {lo:.3f} / {mid:.3f} / {hi:.3f})",
            timing.flops_per_s / 1e9,
            "GFLOP/s",
            timing.matmul_flops_per_s / 1e9,
            None if target is None else f">= {target}",
            None if target is None else timing.ratio >= target,
        ),
        bench_row(name, "peak memory", peak / 2**20, "MiB"),
    ]
    step_ms = stages.step_us / 1e3
    for stage, us in stages.total_us.items():
        rows.append(bench_row(name, f"time: {stage}", us / 1e3, "ms/step", step_ms))
    return rows


def _case_record(p: PreparedCase, timing: Timing, counted: float, measured: float,
                 stages: Any, peak: int) -> dict[str, Any]:  # fmt: skip
    lo, mid, hi = timing.ratio_spread
    return {
        "case": p.case.name,
        "kind": p.case.kind,
        "preset": p.case.preset,
        "compiled": p.config.compile,
        "params": p.params,
        "batch_size": p.config.batch_size,
        "seq_len": p.config.seq_len,
        "first_step": p.step - len(timing.rounds),
        "steps_per_s": 1.0 / timing.best_seconds,
        "bytes_per_s": p.bytes_per_step / timing.best_seconds,
        "flops_per_step": counted,
        "flops_per_step_measured": measured,
        "flops_per_s": timing.flops_per_s,
        "matmul_flops_per_s": timing.matmul_flops_per_s,
        "ratio": timing.ratio,
        "ratio_rounds": {"min": lo, "median": mid, "max": hi},
        "target": p.case.target,
        "rounds": [
            {"seconds": r.seconds, "flops": r.flops, "matmul_flops_per_s": r.matmul_flops_per_s}
            for r in timing.rounds
        ],
        "peak_memory_bytes": peak,
        "stage_ms": {k: v / 1e3 for k, v in stages.total_us.items()},
        "stage_forward_ms": {k: v / 1e3 for k, v in stages.forward_us.items()},
        "stage_backward_ms": {k: v / 1e3 for k, v in stages.backward_us.items()},
        "profiled_step_ms": stages.step_us / 1e3,
    }


def warmup_steps(compiled: bool) -> int:
    return COMPILED_WARMUP_STEPS if compiled else WARMUP_STEPS


def bench_case(
    p: PreparedCase,
    reference: MatmulReference,
    rounds: int,
    profiled: int,
    progress: Progress | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Warm up, time ``rounds`` steps against the reference, then one step under
    FlopCounterMode, ``profiled`` steps under the profiler and one for peak memory;
    ``progress(case, phase)`` before each of PHASES."""
    say = progress or (lambda case, phase: None)
    say(p.case.name, PHASES[0])
    for _ in range(warmup_steps(p.config.compile)):
        run_step(p)
    say(p.case.name, PHASES[1])
    timing = Timing(tuple(timed_rounds(lambda: run_step(p), reference, rounds)))
    say(p.case.name, PHASES[2])
    with flop_counter_mode() as counter:
        counted = run_step(p)
    measured = float(counter.get_total_flops())
    say(p.case.name, PHASES[3])
    stages = profile_stages(
        lambda: run_step(p), p.case.kind, p.model, profiled, model_stages=not p.config.compile
    )
    say(p.case.name, PHASES[4])
    peak = peak_memory_bytes(lambda: run_step(p), p.device)
    return (
        _case_rows(p, timing, counted, measured, stages, peak),
        _case_record(p, timing, counted, measured, stages, peak),
    )


def cases(kinds: Sequence[str] | None, quick: bool) -> list[BenchCase]:
    cases = list(QUICK_CASES if quick else FULL_CASES)
    if not kinds:
        return cases
    known = {c.name for c in cases} | {c.kind for c in cases}
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise BittrainError(
            f"bench train: no case '{unknown[0]}': choose from {', '.join(sorted(known))}"
        )
    return [c for c in cases if c.name in kinds or c.kind in kinds]


def train_bench(
    quick: bool = False,
    *,
    kinds: Sequence[str] | None = None,
    compile_model: bool = False,
    device: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The bench (module docstring); ``kinds`` picks cases by name or kind (``cases`` lists
    them), ``compile_model`` trains them under torch.compile (the first steps then compile),
    ``progress(case, phase)`` hears each case's PHASES."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = QUICK if quick else FULL
    rows: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bitlab-bench-train-") as tmp:
        corpus_path = write_sample_corpus(Path(tmp) / "corpus.zarr", n_docs=400)
        corpus = open_corpus(corpus_path)
        reference = MatmulReference(dev)
        for case in cases(kinds, quick):
            try:
                p = prepare(case, corpus, corpus_path, Path(tmp) / case.name.replace(" ", "-"),
                            dev, batch_size=sizes["batch_size"], seq_len=sizes["seq_len"],
                            compile_model=compile_model)  # fmt: skip
            except ImportError as exc:  # hf-bert without the optional transformers
                notes.append(f"{case.name}: not run ({exc})")
                continue
            log.info("bench train: %s", case.name)
            case_rows, record = bench_case(
                p, reference, sizes["rounds"], sizes["profiled"], progress
            )
            rows += case_rows
            records.append(record)
    notes += [
        f"device {dev.type}, {torch.get_num_threads()} threads; {sizes['batch_size']} windows x "
        f"{sizes['seq_len']} bytes of the sample corpus, from step {RUN_FRACTION} x max_steps of "
        "the tiny config (the curriculum's final rates); "
        + ("torch.compile" if compile_model else "eager"),
        f"time = fastest of {sizes['rounds']} steps after {warmup_steps(compile_model)} warm-up "
        "steps, each after its own reference (best of 3 matmuls of 1024^3 fp32); ratio = best FLOP/s / "
        "best matmul FLOP/s, the rounds' ratios (each step / its reference) as min / median / max",
        "FLOPs = the task's count (TaskLoss.flops: forward 3x with backward, no-grad passes 1x), "
        "the one budgets and equal-FLOP comparisons use; reference = FlopCounterMode",
        "stage times: torch.profiler over "
        f"{sizes['profiled']} step(s), each op's own time, backward ops to the stage of their "
        "forward; ratio = share of the profiled step (profiling adds overhead)"
        + (
            "; compiled: the model is one graph, its time counts to the task"
            if compile_model
            else ""
        ),
    ]
    return {"name": "train", "rows": rows, "notes": notes, "cases": records}
