"""Record the loss of every step of 20-step runs (``bitlab train --config tiny-curriculum``, the
seed's curriculum, and each baseline kind) on the project's own sample corpus, into
tests/data/loss_sequences.json.

Run once before a change that must not alter training (``python tests/record_loss_sequences.py``);
tests/test_loss_sequences.py reruns the same commands and compares.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "loss_sequences.json"
STEPS = 20
# name -> bitlab arguments after the corpus/out options (the shipped tiny config, full size).
RUNS: dict[str, list[str]] = {
    # recorded as `--config tiny` before `tiny` became byte masks only: the same config is
    # `tiny-curriculum` now (the seed's four-level curriculum)
    "bitswin-tiny": ["train", "--config", "tiny-curriculum"],
    "byte": ["baseline", "train", "--kind", "byte", "--config", "tiny"],
    "bpe": ["baseline", "train", "--kind", "bpe", "--config", "tiny"],
    "hf-bert": ["baseline", "train", "--kind", "hf-bert", "--config", "tiny"],
}
COMMON = ["--max-steps", str(STEPS), "--set", "log_every=1", "--set", "eval_every=0",
          "--set", "checkpoint_every=1000", "--no-progress"]  # fmt: skip


def write_corpus(path: Path) -> None:
    from bittrain.fixtures import write_sample_corpus

    write_sample_corpus(path, n_docs=400)


def losses(name: str, corpus: Path, out: Path) -> list[float]:
    args = [sys.executable, "-m", "bitlab", *RUNS[name], "--corpus", str(corpus),
            "--out", str(out), *COMMON]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: {done.stderr}")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [row["loss"] for row in rows if row.get("kind") == "train"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "sample.zarr"
        write_corpus(corpus)
        record = {name: losses(name, corpus, Path(tmp) / name) for name in RUNS}
    DATA.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: [v[0], v[-1], len(v)] for k, v in record.items()}))


if __name__ == "__main__":
    main()
