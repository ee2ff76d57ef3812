"""The prepared GPU check (``make gpu-check``): everything that can only be measured on CUDA, in
one offline run on a machine with a GPU and PyTorch already installed.

1. every registered task kind: one training step (forward + backward) under bf16 autocast, with
   finite loss and gradients (bitswin at its last curriculum phase: all masks, boundary passes);
2. ``bitlab train --gpus 1`` on a built-in corpus, killed mid-run (SIGKILL) and continued with
   ``--resume``: the final weights must equal an uninterrupted run's, bit for bit;
3. training throughput per kind (bitswin ``base`` and ``large``, the byte, BPE and BERT
   baselines at ``base``; bitswin ``base`` compiled while time is left), timed as `bitlab bench
   train` times it (``bittrain.bench``): bytes/s, achieved FLOP/s (the task's own count) and
   MFU against the GPU's peak dense bf16 FLOP/s, the ratio to a 1024^3 fp32 matmul, the time
   per stage of one profiled step, peak memory. Cases that would overrun the 10-minute budget
   are skipped and say so.

Results go to ``OUT/gpu_check.json`` and ``OUT/gpu_check.md``. ``--device cpu --quick`` runs the
same code at toy sizes (the test suite does, so the check cannot rot between GPU sessions).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bitcodec.corpus_reader import open_corpus
from bittrain.bench.cases import BenchCase, PreparedCase, prepare, train_step
from bittrain.bench.stages import profile_stages
from bittrain.bench.timing import MatmulReference, Timing, timed_rounds
from bittrain.engine import autocast, task_kinds
from bittrain.fixtures import MICRO_BASELINES, MICRO_MODEL, write_sample_corpus
from bittrain.trainer.step import micro_inputs
from safetensors.torch import load_file

# Peak dense bf16 tensor FLOP/s by device name (vendor data sheets, no sparsity).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12}
# Throughput cases: every kind at its base preset, bitswin also at large and compiled (the last
# runs only while the check has COMPILE_MIN_LEFT_S of its budget left).
THROUGHPUT = (
    BenchCase("bitswin base", "bitswin", "base"),
    BenchCase("bitswin large", "bitswin", "large"),
    BenchCase("byte base", "byte", "base"),
    BenchCase("bpe base", "bpe", "base"),
    BenchCase("hf-bert base", "hf-bert", "base"),
)
COMPILED = BenchCase("bitswin base compiled", "bitswin", "base", ("model.static_units=true",))
BUDGET_S = 600  # the whole check: one run of at most 10 minutes
COMPILE_MIN_LEFT_S = 240
CASE_MIN_LEFT_S = 45  # a case at 32 x 512 bytes: build, warm up, time, profile


def peak_flops(device: torch.device, override_tflops: float | None) -> float | None:
    if override_tflops:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16.items() if key in name), None)


def _micro(case: BenchCase, quick: bool) -> BenchCase:
    """The case at toy sizes for a CPU smoke run (``--quick``)."""
    if not quick:
        return case
    extra = MICRO_MODEL if case.kind == "bitswin" else MICRO_BASELINES.get(case.kind, ())
    return BenchCase(case.name, case.kind, case.preset, (*case.overrides, *extra))


def _prepare(case: BenchCase, corpus: Any, corpus_path: Path, work: Path, device: torch.device,
             batch: int, seq_len: int, compile_model: bool = False) -> PreparedCase:  # fmt: skip
    run_dir = work / case.name.replace(" ", "-")
    return prepare(case, corpus, corpus_path, run_dir, device, batch_size=batch,
                   seq_len=seq_len, compile_model=compile_model)  # fmt: skip


def check_kinds(corpus: Any, corpus_path: Path, work: Path, device: torch.device,
                quick: bool) -> list[dict]:  # fmt: skip
    """Every registered kind: one forward + backward under bf16 autocast (fp32 on CPU) at its
    last curriculum step, with a finite loss and finite gradients."""
    rows = []
    for kind in task_kinds():
        case = _micro(BenchCase(kind, kind, "tiny"), quick)
        try:
            p = _prepare(case, corpus, corpus_path, work / "kinds", device, 4, 256)
        except Exception as exc:  # an optional kind without its extra (hf-bert: transformers)
            rows.append({"kind": kind, "ok": None, "note": f"not built: {exc}"})
            continue
        last = p.config.max_steps - 1
        ids = np.arange(last * 4, (last + 1) * 4, dtype=np.int64)
        windows, starts, index = micro_inputs(p.split, ids, p.config.seq_len, p.config.seed, 4,
                                              device)  # fmt: skip
        with autocast(device, "auto"):
            out = p.task.loss(p.model, windows, starts, step=last, sample_index=index)
        out.loss.backward()
        loss = float(out.loss.detach())
        grads = [q.grad for q in p.plain.parameters() if q.grad is not None]
        finite = all(bool(torch.isfinite(g).all()) for g in grads)
        rows.append({"kind": kind, "ok": np.isfinite(loss) and finite and bool(grads),
                     "loss": loss, "phase": p.task.phase(last)})  # fmt: skip
    return rows


def check_resume(corpus_path: Path, work: Path, device: str, quick: bool) -> dict[str, Any]:
    """A ``--gpus 1`` (or CPU) run killed at step 7 and resumed equals an uninterrupted one."""
    launch = ["--gpus", "1"] if device == "cuda" else []
    settings = ["max_steps=12", "checkpoint_every=4", "eval_every=6", "eval_windows=4",
                "batch_size=4", "seq_len=128", "warmup_steps=2", "eval_protocols=bytes",
                *(MICRO_MODEL if quick else ())]  # fmt: skip

    def train(out: Path, *extra: str, fault: str | None = None) -> subprocess.CompletedProcess:
        args = [sys.executable, "-m", "bitlab", "train", "--corpus", str(corpus_path), "--out",
                str(out), "--no-progress", *launch, *extra]  # fmt: skip
        for item in settings:
            args += ["--set", item]
        env = {k: v for k, v in os.environ.items() if k != "BITLAB_TRAIN_FAULT"}
        if fault:
            env["BITLAB_TRAIN_FAULT"] = fault
        return subprocess.run(args, capture_output=True, text=True, env=env, timeout=900)

    straight, killed = work / "straight", work / "killed"
    first = train(straight)
    cut = train(killed, fault="kill@7")
    again = train(killed, "--resume")
    ok = first.returncode == 0 and again.returncode == 0
    equal = False
    if ok:
        a, b = (load_file(str(p / "model" / "model.safetensors")) for p in (straight, killed))
        equal = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    return {
        "launch": " ".join(launch) or "one CPU process",
        "straight_rc": first.returncode,
        "killed_rc": cut.returncode,
        "killed_by_sigkill": cut.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL, 1, 2),
        "resumed_rc": again.returncode,
        "bitwise_equal": equal,
        "stderr_tail": (again.stderr or first.stderr)[-2000:] if not ok else "",
    }


def _note(case: BenchCase, note: str) -> dict[str, Any]:
    return {"case": case.name, "kind": case.kind, "preset": case.preset, "note": note}


def throughput(corpus: Any, corpus_path: Path, work: Path, device: torch.device, quick: bool,
               peak: float | None, deadline: float) -> list[dict]:  # fmt: skip
    """Every THROUGHPUT case (and COMPILED on CUDA while time is left): bytes/s, the task's
    FLOP/s, MFU against ``peak``, the ratio to a 1024^3 fp32 matmul, the stage split of one
    profiled step and peak memory."""
    batch, seq_len, warm, rounds = (2, 128, 1, 2) if quick else (32, 512, 3, 8)
    cases = [_micro(c, quick) for c in THROUGHPUT]
    compiled = device.type == "cuda" and not quick
    reference = MatmulReference(device)
    rows = []
    for case in [*cases, *([COMPILED] if compiled else [])]:
        need = COMPILE_MIN_LEFT_S if case is COMPILED else CASE_MIN_LEFT_S
        if deadline - time.monotonic() < need:
            rows.append(_note(case, f"skipped: under {need} s of the {BUDGET_S} s budget left"))
            continue
        try:
            p = _prepare(case, corpus, corpus_path, work / "throughput", device, batch, seq_len,
                         compile_model=case is COMPILED)  # fmt: skip
        except ImportError as exc:  # hf-bert without transformers
            rows.append(_note(case, f"not built: {exc}"))
            continue
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(warm):
            train_step(p)
        timing = Timing(tuple(timed_rounds(lambda p=p: train_step(p), reference, rounds)))
        stages = profile_stages(lambda p=p: train_step(p), case.kind, p.model, 1,
                                model_stages=not p.config.compile)  # fmt: skip
        rows.append({
            "case": case.name, "kind": case.kind, "preset": case.preset, "batch": batch,
            "seq_len": seq_len, "params": p.params, "compiled": case is COMPILED,
            "bytes_per_s": p.bytes_per_step / timing.best_seconds,
            "flops_per_step": timing.mean_flops, "flops_per_s": timing.flops_per_s,
            "mfu": timing.flops_per_s / peak if peak else None,
            "matmul_ratio": timing.ratio,
            "stage_ms": {k: v / 1e3 for k, v in stages.total_us.items()},
            "max_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30
            if device.type == "cuda" else None,
        })  # fmt: skip
        del p
    return rows


def render(report: dict[str, Any]) -> str:
    lines = [f"# GPU check ({report['device_name']}, torch {report['torch']})", "",
             "| kind | one bf16 step ok | loss | phase |", "|---|---|---:|---:|"]  # fmt: skip
    for row in report["kinds"]:
        lines.append(f"| {row['kind']} | {row['ok']} | {row.get('loss', '-')} | "
                     f"{row.get('phase', '-')} |")  # fmt: skip
    r = report["resume"]
    lines += ["", f"train {r['launch']}: killed then resumed, weights bitwise equal to an "
              f"uninterrupted run: **{r['bitwise_equal']}**", "",
              "| case | params | batch x bytes | bytes/s | TFLOP/s | MFU | vs fp32 matmul "
              "| max mem GiB | largest stages (ms/step) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for t in report["throughput"]:
        if "note" in t:
            lines.append(f"| {t['case']} | {t['note']} | | | | | | | |")
            continue
        mfu = "-" if t["mfu"] is None else f"{t['mfu']:.1%}"
        mem = "-" if t["max_memory_gib"] is None else f"{t['max_memory_gib']:.1f}"
        top = ", ".join(f"{k} {v:.1f}" for k, v in list(t["stage_ms"].items())[:3])
        lines.append(f"| {t['case']} | {t['params']:,} | {t['batch']} x {t['seq_len']} | "
                     f"{t['bytes_per_s']:,.0f} | {t['flops_per_s'] / 1e12:.2f} | {mfu} | "
                     f"{t['matmul_ratio']:.2f} | {mem} | {top} |")  # fmt: skip
    lines += ["", f"peak bf16: {report['peak_tflops'] or '-'} TFLOP/s; FLOPs = the task's own "
              "count (forward x3 with backward); check took "
              f"{report['seconds']:.0f} s of its {BUDGET_S} s budget"]  # fmt: skip
    return "\n".join(lines) + "\n"


def run(out: Path, device_name: str, quick: bool, peak_tflops: float | None) -> dict[str, Any]:
    device = torch.device(device_name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu-check: no CUDA device is visible (run it on the GPU machine)")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    deadline = started + BUDGET_S
    with tempfile.TemporaryDirectory(prefix="bitlab-gpu-check-") as tmp:
        work = Path(tmp)
        corpus_path = write_sample_corpus(work / "corpus.zarr", n_docs=400)
        corpus = open_corpus(corpus_path)
        peak = peak_flops(device, peak_tflops)
        report = {
            "device": device_name,
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "peak_tflops": None if peak is None else peak / 1e12,
            "kinds": check_kinds(corpus, corpus_path, work, device, quick),
            "resume": check_resume(corpus_path, work, device.type, quick),
        }
        report["throughput"] = throughput(corpus, corpus_path, work, device, quick, peak, deadline)
        report["seconds"] = time.monotonic() - started
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "gpu_check.md").write_text(render(report))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bitlab.gpu_check", description=__doc__)
    parser.add_argument("--out", default="gpu-check-out", type=Path)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="toy sizes (CPU smoke test)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="peak dense bf16 TFLOP/s")
    args = parser.parse_args(argv)
    report = run(args.out, args.device, args.quick, args.peak_tflops)
    print(render(report))
    failed = [k["kind"] for k in report["kinds"] if k["ok"] is False]
    return 1 if failed or not report["resume"]["bitwise_equal"] else 0


if __name__ == "__main__":
    sys.exit(main())
