"""End to end: `bitlab prepare-corpus` killed with SIGKILL and resumed gives the same store,
which another process reads with plain zarr."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BITLAB = [sys.executable, "-m", "bitlab"]
# One document per line, small chunks and a checkpoint after every file: the kill lands between
# checkpoints with whole chunks and tails written past the last one.
COMMON = ["--split-on", "line", "--val-fraction", "0.2", "--dedup", "--workers", "1",
          "--chunk-bytes", "4096", "--checkpoint-seconds", "0"]  # fmt: skip

READ_WITH_ZARR = """
import json, sys, zarr
root = zarr.open_group(sys.argv[1], mode="r")
out = {"attrs": dict(root.attrs)}
for split in ("train", "val"):
    out[split] = {"bytes": root[split]["bytes"][:].tobytes().hex(),
                  "offsets": root[split]["offsets"][:].tolist()}
print(json.dumps(out))
"""


def _inputs(folder: Path) -> None:
    rng = np.random.default_rng(0)
    words = [
        b"alpha",
        b"beta",
        b"gamma",
        "\u00e9t\u00e9".encode(),
        "\u4e16\u754c".encode(),
        b"\xff",
    ]
    for i in range(40):
        lines = [
            b" ".join(words[j] for j in rng.integers(0, len(words), rng.integers(1, 30)))
            for _ in range(120)
        ]
        lines += lines[:10]  # duplicates for --dedup
        (folder / f"part-{i:03d}.txt").write_bytes(b"\n".join(lines) + b"\n")


def _read_with_zarr(store: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", READ_WITH_ZARR, str(store)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def _run(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(BITLAB + args, capture_output=True, text=True, env=env, timeout=300)


def test_sigkill_then_resume_gives_the_same_bytes_and_offsets(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _inputs(data)
    ref = tmp_path / "ref.zarr"
    done = _run(["prepare-corpus", str(data), "--out", str(ref), *COMMON])
    assert done.returncode == 0, done.stderr

    out = tmp_path / "out.zarr"
    progress = Path(str(out) + ".partial") / ".bitlab-progress.json"
    env = dict(os.environ, BITCODEC_INGEST_TASK_DELAY_S="0.1")
    proc = subprocess.Popen([*BITLAB, "prepare-corpus", str(data), "--out", str(out), *COMMON],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    tasks_done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            tasks_done = json.loads(progress.read_text())["state"].get("tasks_done", 0)
        except (OSError, ValueError):
            tasks_done = 0
        if tasks_done >= 12:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed run must not leave a store that looks complete"
    assert progress.parent.is_dir()

    # without --resume the leftover is refused, with one clear line
    refused = _run(["prepare-corpus", str(data), "--out", str(out), *COMMON])
    assert refused.returncode == 2 and "pass --resume" in refused.stderr

    resumed = _run(["prepare-corpus", str(data), "--out", str(out), *COMMON, "--resume", "--json"])
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["resumed"] is True
    assert not progress.parent.exists()

    a, b = _read_with_zarr(ref), _read_with_zarr(out)
    for split in ("train", "val"):
        assert a[split]["bytes"] == b[split]["bytes"]
        assert a[split]["offsets"] == b[split]["offsets"]
    assert a["attrs"]["counts"] == b["attrs"]["counts"]
    assert (
        b["attrs"]["stats"]["duplicates_removed"]
        == a["attrs"]["stats"]["duplicates_removed"]
        >= 400
    )

    # and what plain zarr read is what the inputs hold: every distinct line, none lost
    lines = set()
    for f in sorted(data.iterdir()):
        lines.update(ln for ln in f.read_bytes().split(b"\n") if ln.strip())
    total = sum(len(bytes.fromhex(b[s]["bytes"])) for s in ("train", "val"))
    assert total == sum(map(len, lines))
    assert len(b["train"]["offsets"]) + len(b["val"]["offsets"]) - 2 == len(lines)


def test_mixed_real_files_then_an_idempotent_rerun(tmp_path: Path) -> None:
    """A folder as researchers have them, through the installed command in a fresh process:
    a Hub-style Parquet shard, a C4-style .json.gz of JSON lines, a CSV, a TSV, a NUL-holding
    file; then the same command with --resume changes nothing."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    data = tmp_path / "data"
    (data / "hub" / "data").mkdir(parents=True)
    pq.write_table(pa.table({"text": ["parquet one", "parquet two"]}),
                   data / "hub" / "data" / "train-00000-of-00001.parquet")  # fmt: skip
    c4 = "".join(json.dumps({"text": f"c4 {i}", "url": "u"}) + "\n" for i in range(3))
    (data / "c4-train.00000-of-01024.json.gz").write_bytes(gzip.compress(c4.encode()))
    (data / "reviews.csv").write_text('text,label\n"good, really",1\nbad,0\n')
    (data / "sst.tsv").write_text("text\tlabel\nfine film\t1\n")
    (data / "blob.bin").write_bytes(b"\x00\x01\x02 binary")
    out = tmp_path / "mix.zarr"
    args = ["prepare-corpus", str(data), "--out", str(out), "--val-fraction", "0", "--json"]
    done = _run(args)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["skipped_binary_files"] == [{"path": str(data / "blob.bin"), "size": 10}]
    docs = _read_with_zarr(out)
    text = bytes.fromhex(docs["train"]["bytes"])
    assert text == b"c4 0c4 1c4 2good, reallybadfine filmparquet oneparquet two"
    again = _run([*args, "--resume"])
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["unchanged"] is True
    assert _read_with_zarr(out) == docs
