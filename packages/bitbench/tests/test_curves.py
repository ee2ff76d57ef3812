"""Validation curves from hand-made metrics.jsonl rows (new rows with cumulative train_flops,
elapsed_s and bpb_<protocol>; old rows with only bpb), the common budget and the compare plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bitbench.compare import write_compare
from bitbench.curves import bpb_at_common_budget, curve_as_dict, run_curve


def new_rows(flops_per_step: float, bpbs: list[float], every: int = 10) -> list[dict]:
    rows = []
    for i, bpb in enumerate(bpbs, start=1):
        step = i * every
        rows.append({"kind": "train", "step": step, "loss": 1.0, "elapsed_s": 2.0 * step,
                     "train_flops": flops_per_step * step})  # fmt: skip
        rows.append({"kind": "val", "step": step, "bpb": 9.9, "bpb_words": bpb,
                     "train_flops": flops_per_step * step, "elapsed_s": 2.0 * step})  # fmt: skip
    return rows


def test_new_rows_use_the_protocol_bpb_and_logged_flops():
    curve = run_curve("a", new_rows(1e9, [5.0, 4.0, 3.0]), protocol="words", kind="bitswin")
    assert curve.metric == "bpb_words" and curve.flops_source == "logged"
    assert curve.flops.tolist() == [1e10, 2e10, 3e10]
    assert curve.elapsed_s.tolist() == [20.0, 40.0, 60.0]
    assert curve.bpb_at(1.5e10) == pytest.approx(4.5)  # between two val rows
    assert curve.bpb_at(4e10) is None  # never reached


def test_old_rows_fall_back_to_bpb_and_estimated_flops():
    rows = [{"kind": "train", "step": 5, "elapsed_s": 7.0}, {"kind": "val", "step": 5, "bpb": 4.2},
            {"kind": "train", "step": 10, "elapsed_s": 15.0}, {"kind": "val", "step": 10, "bpb": 3.9}]  # fmt: skip
    curve = run_curve("old", rows, protocol="words", flops_per_step=2e9)
    assert curve.metric == "bpb" and curve.flops_source == "estimated"
    assert curve.flops.tolist() == [1e10, 2e10] and curve.elapsed_s.tolist() == [7.0, 15.0]
    assert run_curve("none", rows, protocol="words").bpb.size == 0  # no FLOPs known at all


def test_bpb_at_the_largest_budget_all_runs_reached(tmp_path):
    short = run_curve("short", new_rows(1e9, [5.0, 4.0]), protocol="words", kind="byte")
    long = run_curve("long", new_rows(2e9, [6.0, 5.0, 3.0]), protocol="words", kind="bitswin")
    budget, at = bpb_at_common_budget([short, long])
    assert budget == 2e10  # the short run's last row
    assert at == {"short": pytest.approx(4.0), "long": pytest.approx(6.0)}
    rows = []
    for curve, bpb in ((short, 4.0), (long, 3.0)):
        rows.append({"name": curve.name, "kind": curve.kind, "bpb": bpb, "protocol": "words",
                     "train_flops": float(curve.flops.max()), "curve": curve_as_dict(curve),
                     "common_flops": budget, "bpb_at_common_flops": at[curve.name]})  # fmt: skip
    written = write_compare(rows, tmp_path, "bitlab compare a b")
    assert written["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(written["json"].read_text())
    assert saved["common_flops"] == 2e10
    assert saved["rows"][1]["curve"]["bpb"] == [6.0, 5.0, 3.0]
    report = written["report"].read_text()
    assert "val bpb at common FLOPs" in report and "20 GFLOP" in report
    assert np.isfinite(saved["rows"][0]["bpb_at_common_flops"])
