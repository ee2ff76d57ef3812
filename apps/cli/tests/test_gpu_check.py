"""The prepared GPU check runs end to end at toy sizes on the CPU (so it cannot rot between the
sessions that have a GPU)."""

from __future__ import annotations

import json

import pytest
from bitlab.gpu_check import main, peak_flops


@pytest.mark.slow
def test_gpu_check_runs_on_cpu_at_toy_sizes(tmp_path) -> None:
    assert main(["--device", "cpu", "--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert {"bitswin", "byte", "bpe"} <= {k["kind"] for k in report["kinds"] if k["ok"]}
    assert report["resume"]["bitwise_equal"] is True
    measured = [t for t in report["throughput"] if "note" not in t]
    assert {"bitswin base", "bitswin large", "byte base", "bpe base"} <= {
        t["case"] for t in measured
    }
    for t in measured:  # no peak is known for a CPU: bytes/s and FLOP/s, no MFU
        assert t["bytes_per_s"] > 0 and t["flops_per_s"] > 0 and t["mfu"] is None
        assert t["flops_per_step"] > 0 and sum(t["stage_ms"].values()) > 0
    assert "MFU" in (tmp_path / "gpu_check.md").read_text()


def test_peak_needs_a_known_gpu_or_an_override() -> None:
    import torch

    assert peak_flops(torch.device("cpu"), None) is None
    assert peak_flops(torch.device("cpu"), 100.0) == 100e12
