"""The prepared GPU check (``make gpu-check``): everything that can only be measured on CUDA, in
one offline run on a machine with a GPU and PyTorch already installed.

1. every registered task kind: one training step (forward + backward) under bf16 autocast, with
   finite loss and gradients (bitswin at its last curriculum phase: all masks, boundary passes);
2. ``bitlab train --gpus 1`` on a built-in corpus, killed mid-run (SIGKILL) and continued with
   ``--resume``: the final weights must equal an uninterrupted run's, bit for bit;
3. training throughput of bitswin ``base`` and ``large`` (and the byte baseline): bytes/s,
   achieved FLOP/s (every forward counted, as in train_flops) and MFU against the GPU's peak
   dense bf16 FLOP/s.

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
from bittrain.engine import TaskSpec, autocast, build_task, task_kinds
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus
from bittrain.trainer.config_files import load_config
from bittrain.trainer.data import draw_windows
from bittrain.trainer.setup import task_spec
from safetensors.torch import load_file

# Peak dense bf16 tensor FLOP/s by device name (vendor data sheets, no sparsity).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12}
TINY_BASELINES = {
    "byte": ("model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.window=16"),
    "bpe": ("model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.vocab_size=300"),
}
TINY_BASELINES["hf-bert"] = TINY_BASELINES["bpe"]


def peak_flops(device: torch.device, override_tflops: float | None) -> float | None:
    if override_tflops:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16.items() if key in name), None)


def _spec(kind: str, corpus: Any, run_dir: Path, overrides: tuple[str, ...], batch: int,
          seq_len: int, steps: int) -> TaskSpec:  # fmt: skip
    config = load_config(
        "tiny",
        [f"task={kind}", f"batch_size={batch}", f"seq_len={seq_len}", *overrides],
        corpus="unused",
        out=str(run_dir),
    )
    return task_spec(config, corpus, total_steps=steps)


def _step(task: Any, model: torch.nn.Module, corpus: Any, device: torch.device, step: int,
          batch: int, seq_len: int) -> tuple[float, float]:  # fmt: skip
    """One forward + backward under bf16 autocast (fp32 on CPU): (loss, FLOPs)."""
    ids = np.arange(step * batch, (step + 1) * batch, dtype=np.int64)
    w, d = draw_windows(corpus.train, ids, seq_len, 0, batch)
    windows, starts = torch.from_numpy(w).to(device), torch.from_numpy(d).to(device)
    with autocast(device, "auto"):
        out = task.loss(model, windows, starts, step=step, sample_index=torch.from_numpy(ids))
    out.loss.backward()
    return float(out.loss.detach()), out.flops


def check_kinds(corpus: Any, work: Path, device: torch.device, quick: bool) -> list[dict]:
    rows = []
    for kind in task_kinds():
        overrides = MICRO_MODEL if quick and kind == "bitswin" else ()
        if quick:
            overrides = TINY_BASELINES.get(kind, overrides)
        try:
            spec = _spec(kind, corpus, work / kind, overrides, batch=4, seq_len=256, steps=10)
            task = build_task(spec)
        except Exception as exc:  # an optional kind without its extra (hf-bert: transformers)
            rows.append({"kind": kind, "ok": None, "note": f"not built: {exc}"})
            continue
        model = task.model.to(device)
        loss, _ = _step(task, model, corpus, device, spec.total_steps - 1, 4, 256)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        finite = all(bool(torch.isfinite(g).all()) for g in grads)
        rows.append({"kind": kind, "ok": np.isfinite(loss) and finite and bool(grads),
                     "loss": loss, "phase": task.phase(spec.total_steps - 1)})  # fmt: skip
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


def throughput(corpus: Any, work: Path, device: torch.device, quick: bool,
               peak: float | None) -> list[dict]:  # fmt: skip
    cases = [("bitswin", "base", ()), ("bitswin", "large", ()), ("byte", "base", ())]
    batch, seq_len, warm, steps = (2, 128, 1, 2) if quick else (32, 512, 3, 10)
    rows = []
    for kind, preset, extra in cases:
        overrides = (f"model_preset={preset}", *extra, *(MICRO_MODEL if quick and kind == "bitswin"
                     else TINY_BASELINES.get(kind, ()) if quick else ()))  # fmt: skip
        spec = _spec(kind, corpus, work / f"tp-{kind}-{preset}", overrides, batch, seq_len, 1000)
        task = build_task(spec)
        model = task.model.to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        flops = 0.0
        for step in range(warm + steps):
            if step == warm:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t0, flops = time.perf_counter(), 0.0
            _, step_flops = _step(task, model, corpus, device, 900 + step, batch, seq_len)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            flops += step_flops
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        achieved = flops / seconds
        rows.append({
            "kind": kind, "preset": preset, "batch": batch, "seq_len": seq_len,
            "params": sum(p.numel() for p in model.parameters()),
            "bytes_per_s": batch * seq_len * steps / seconds, "flops_per_s": achieved,
            "mfu": achieved / peak if peak else None,
            "max_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30
            if device.type == "cuda" else None,
        })  # fmt: skip
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
              "| kind | preset | params | batch x bytes | bytes/s | TFLOP/s | MFU | max mem GiB |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for t in report["throughput"]:
        mfu = "-" if t["mfu"] is None else f"{t['mfu']:.1%}"
        mem = "-" if t["max_memory_gib"] is None else f"{t['max_memory_gib']:.1f}"
        lines.append(f"| {t['kind']} | {t['preset']} | {t['params']:,} | {t['batch']} x "
                     f"{t['seq_len']} | {t['bytes_per_s']:,.0f} | {t['flops_per_s'] / 1e12:.1f} "
                     f"| {mfu} | {mem} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def run(out: Path, device_name: str, quick: bool, peak_tflops: float | None) -> dict[str, Any]:
    device = torch.device(device_name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu-check: no CUDA device is visible (run it on the GPU machine)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bitlab-gpu-check-") as tmp:
        work = Path(tmp)
        corpus_path = write_sample_corpus(work / "corpus.zarr", n_docs=400)
        corpus = open_corpus(corpus_path)
        report = {
            "device": device_name,
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "kinds": check_kinds(corpus, work, device, quick),
            "resume": check_resume(corpus_path, work, device.type, quick),
            "throughput": throughput(corpus, work, device, quick, peak_flops(device, peak_tflops)),
        }
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
