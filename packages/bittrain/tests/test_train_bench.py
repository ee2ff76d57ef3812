"""`bitlab bench train` (bittrain.bench): its quick run counts the task's FLOPs, splits a step's
time into the model's stages (forward and backward), leaves the model as it found it, and its
ratios are the arithmetic they say. Nothing here asserts on a time."""

from __future__ import annotations

import pytest
import torch
from bitswin import BitSwinConfig, BitSwinModel
from bittrain.bench.stages import (
    DATA,
    OPTIMIZER,
    StageSplit,
    bitswin_stages,
    profile_stages,
    stage_modules,
)
from bittrain.bench.timing import Round, Timing
from bittrain.bench.train_bench import cases, train_bench
from bittrain.errors import BittrainError

# Three stages: bit, byte and one word level (routing and pooling between the last two).
MICRO_SWIN = {"depths": (1, 1, 1), "widths": (8, 16, 16), "heads": (1, 2, 2),
              "windows": (4, 4, 4), "unit_targets": (3.0,)}  # fmt: skip


@pytest.fixture(scope="module")
def quick() -> dict:
    heard: list[tuple[str, str]] = []
    report = train_bench(quick=True, progress=lambda case, phase: heard.append((case, phase)))
    report["heard"] = heard
    return report


@pytest.mark.slow
def test_quick_bench_counts_the_tasks_flops_and_times_every_case(quick: dict) -> None:
    assert [c["case"] for c in quick["cases"]] == [c.name for c in cases(None, quick=True)]
    assert len(quick["heard"]) == 5 * len(quick["cases"])  # every phase of every case
    for case in quick["cases"]:
        # the task's own count (what budgets use) agrees with torch's counter, as in training
        assert case["flops_per_step"] > 0
        assert case["flops_per_step"] == pytest.approx(case["flops_per_step_measured"], rel=0.10)
        assert case["ratio"] == pytest.approx(case["flops_per_s"] / case["matmul_flops_per_s"])
        best = min(r["seconds"] for r in case["rounds"])
        assert case["steps_per_s"] == pytest.approx(1.0 / best)
        assert case["bytes_per_s"] == pytest.approx(case["batch_size"] * case["seq_len"] / best)
        assert case["peak_memory_bytes"] > 0 and case["params"] > 0
        assert sum(case["stage_ms"].values()) == pytest.approx(case["profiled_step_ms"])
        assert {DATA, OPTIMIZER, "loss"} <= set(case["stage_forward_ms"])
    swin = next(c for c in quick["cases"] if c["kind"] == "bitswin")
    model_stages = {"bit stage", "byte encoder", "heads", "loss"}
    # backward ops are charged to the stage whose forward made them
    assert model_stages <= set(swin["stage_forward_ms"]) & set(swin["stage_backward_ms"])
    byte = next(c for c in quick["cases"] if c["kind"] == "byte")
    block_stages = {"attention (rotary, band, softmax)", "qkv and output projections",
                    "feed-forward", "layer norms"}  # fmt: skip
    assert block_stages <= set(byte["stage_forward_ms"]) & set(byte["stage_backward_ms"])
    metrics = {row["metric"] for row in quick["rows"]}
    assert {"training steps/s", "bytes/s", "peak memory"} <= metrics


def test_cases_are_chosen_by_name_or_kind_and_an_unknown_one_says_the_choices() -> None:
    assert [c.name for c in cases(["byte"], quick=False)] == ["byte"]
    assert [c.name for c in cases(["bitswin"], quick=False)] == ["bitswin tiny", "bitswin base"]
    assert [c.target for c in cases(["bitswin tiny", "byte"], quick=False)] == [0.35, 0.3]
    with pytest.raises(BittrainError, match=r"no case 'gpt'.*byte"):
        cases(["gpt"], quick=True)


def test_profiled_steps_leave_no_hooks_and_split_a_bitswin_step_by_stage() -> None:
    torch.manual_seed(0)
    model = BitSwinModel(BitSwinConfig(**MICRO_SWIN))
    ids = torch.randint(0, 2, (2, 32 * 8), generator=torch.Generator().manual_seed(0))
    before = model(ids).byte_logits.detach()

    def step() -> None:
        model(ids).byte_logits.square().mean().backward()

    split = profile_stages(step, "bitswin", model, steps=1)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert torch.equal(model(ids).byte_logits.detach(), before)  # the profile changed nothing
    for stage in ("bit stage", "byte encoder", "routing and pooling", "word/phrase stages"):
        assert split.forward_us[stage] > 0 and split.backward_us[stage] > 0
    assert set(stage_modules("bitswin", model)) == set(bitswin_stages(model))


def test_stage_split_totals_and_timing_ratios_are_their_arithmetic() -> None:
    split = StageSplit({"a": 1.0, "b": 4.0}, {"a": 2.0})
    assert split.total_us == {"b": 4.0, "a": 3.0} and split.step_us == 7.0
    rounds = (Round(2.0, 100.0, 200.0), Round(1.0, 100.0, 400.0), Round(4.0, 100.0, 100.0))
    timing = Timing(rounds)
    assert timing.best_seconds == 1.0 and timing.flops_per_s == 100.0
    assert timing.matmul_flops_per_s == 400.0 and timing.ratio == 0.25
    assert timing.ratio_spread == (0.25, 0.25, 0.25)
    assert timing.mean_flops == 100.0
