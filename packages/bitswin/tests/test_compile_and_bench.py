"""torch.compile on CPU and the quick benchmark."""

from __future__ import annotations

import pytest
import torch
from bitswin import BitSwinConfig, BitSwinModel
from bitswin.bench import model_bench
from bitswin.memtrack import peak_memory_bytes
from helpers import make_targets, text_bytes


@pytest.mark.slow
def test_torch_compile_matches_eager():
    """Inductor compiles forward and backward of a small model (C++ codegen: ~1-2 min on 2
    busy cores cold, seconds with a warm inductor cache, hence slow). Compiled outputs and gradients match eager ones."""
    config = BitSwinConfig(
        depths=(1, 2, 2, 2),
        widths=(8, 16, 16, 16),
        heads=(2, 2, 2, 2),
        windows=(8, 4, 3, 2),
        static_units=True,
        bit_unique=False,
    )
    torch.manual_seed(0)
    model = BitSwinModel(config)
    data = text_bytes()[:64].reshape(2, 32)
    targets = make_targets(
        data, torch.rand(data.shape, generator=torch.Generator().manual_seed(0)) < 0.2
    )
    eager = model(targets.input_ids, targets=targets)
    eager.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    compiled = torch.compile(model)
    out = compiled(targets.input_ids, targets=targets)
    out.loss.backward()
    torch.testing.assert_close(out.byte_logits, eager.byte_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.loss, eager.loss, atol=1e-4, rtol=1e-4)
    compiled_grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads.keys() <= compiled_grads.keys()
    for name in compiled_grads.keys() - grads.keys():  # unused heads: zeros instead of None
        assert not compiled_grads[name].any(), name
    for name, grad in grads.items():
        torch.testing.assert_close(compiled_grads[name], grad, atol=1e-4, rtol=1e-3, msg=name)


def test_peak_memory_tracker_counts_live_tensors():
    def work() -> None:
        a = torch.ones(1000, 1000)  # 4 MB, alive until the end
        b = a * 2  # +4 MB
        del b
        c = a + 1  # reuses the budget freed by b
        del c

    peak = peak_memory_bytes(work, torch.device("cpu"))
    assert 8_000_000 <= peak < 12_000_000


def test_quick_benchmark_reports_rows():
    report = model_bench(quick=True)
    assert report["name"] == "model"
    metrics = {(r["case"], r["metric"]) for r in report["rows"]}
    assert any(m == "fwd+bwd speed" for _, m in metrics)
    assert any(m == "peak memory" for _, m in metrics)
    assert ("1k / 512 bits", "time per bit") in metrics
    tiny = next(r for r in report["rows"] if r["metric"] == "forward FLOPs per byte vs bitswin 0.1")
    assert tiny["met"] is True and tiny["ratio"] <= 0.7
    for row in report["rows"]:
        assert row["value"] > 0
        if row["reference"] is not None:
            assert row["ratio"] == pytest.approx(row["value"] / row["reference"])
