"""Every forward a step makes is counted in train_flops, and the count agrees with torch's
FlopCounterMode on the first step of every curriculum phase, for every task kind."""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import pytest
from bittrain import load_config, run_training
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus

SMALL = (
    "batch_size=4",
    "seq_len=128",
    "log_every=1",
    "eval_every=0",
    "eval_windows=4",
    "checkpoint_every=100",
    "warmup_steps=1",
)
KINDS = {
    "bitswin": MICRO_MODEL,
    "byte": ("model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.window=16"),
    "bpe": (
        "model.d_model=32",
        "model.n_heads=2",
        "model.n_layers=1",
        "model.vocab_size=300",
        "model.tokenizer_sample_bytes=20000",
    ),
}
KINDS["hf-bert"] = KINDS["bpe"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_sample_corpus(tmp_path_factory.mktemp("corpus") / "c.zarr", n_docs=60)


def _train(corpus: Path, out: Path, *overrides: str):
    # the seed's curriculum (all four mask levels): every kind of forward a step can make
    cfg = load_config("tiny-curriculum", [*SMALL, *overrides], corpus=str(corpus), out=str(out))
    result = run_training(cfg, progress=False)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return result, [r for r in rows if r["kind"] == "train"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_step_flops_agree_with_the_counter(corpus: Path, tmp_path: Path, kind: str) -> None:
    _, rows = _train(corpus, tmp_path / kind, f"task={kind}", "max_steps=10", *KINDS[kind])
    measured = [r for r in rows if "step_flops_measured" in r]
    # bitswin's curriculum passes through its four phases in 10 steps: one measurement each
    assert [r["phase"] for r in measured] == ([1, 2, 3, 4] if kind == "bitswin" else [1])
    for row in measured:
        assert row["step_flops_measured"] > 0
        assert row["step_flops"] == pytest.approx(row["step_flops_measured"], rel=0.10)
    # train_flops is cumulative and grows every step
    totals = [r["train_flops"] for r in rows]
    assert all(b > a for a, b in itertools.pairwise(totals))


def test_model_boundaries_cost_one_more_forward(corpus: Path, tmp_path: Path) -> None:
    # Every byte its own bit-stage row: a clean and a masked forward then cost the same (with
    # the default, each pass costs what its distinct bit patterns cost).
    common = ("max_steps=5", "table_enabled=false", *MICRO_MODEL, "model.bit_unique=false")
    _, model = _train(corpus, tmp_path / "model", "boundary_source=model", *common)
    _, space = _train(corpus, tmp_path / "space", "boundary_source=whitespace", *common)
    for a, b in zip(model, space, strict=True):
        a_step = a["train_flops"] - (model[a["step"] - 2]["train_flops"] if a["step"] > 1 else 0)
        b_step = b["train_flops"] - (space[b["step"] - 2]["train_flops"] if b["step"] > 1 else 0)
        if a["phase"] >= 3:  # word masks on: units from one no-grad forward of the model
            assert a_step == pytest.approx(b_step * (3 + 1) / 3)
        else:  # before the word phase the prior gives units: nothing extra
            assert a_step == pytest.approx(b_step)
    extra = [r for r in model if "step_flops_measured" in r and r["phase"] >= 3]
    assert extra and all(
        r["step_flops"] == pytest.approx(r["step_flops_measured"], rel=0.10) for r in extra
    )


HIER_MODEL = (  # a micro bits -> bytes -> word units -> phrase units model
    "model.depths=[1, 2, 2, 2]",
    "model.widths=[8, 16, 16, 16]",
    "model.heads=[1, 2, 2, 2]",
    "model.windows=[8, 4, 4, 4]",
)


MEMORY = (  # hashed n-grams, the scripts prior, and codes of the table the run grows
    "model.ngram_sizes=[2, 3, 4, 5, 6, 7, 8]",
    "model.ngram_buckets=256",
    "model.ngram_hashes=2",
    'model.unit_prior="scripts"',
    'table_mode="adaptive"',
    "table_update_every=3",
    "table_max_size=64",
)


@pytest.mark.parametrize("extra", [("table_enabled=false",), MEMORY], ids=["plain", "memory"])
def test_units_pass_is_counted_and_unit_metrics_are_logged(
    corpus: Path, tmp_path: Path, extra: tuple[str, ...]
) -> None:
    """Word and phrase masks from the model's own units (a no-grad units pass on the windows
    that draw those levels): its FLOPs are in the count, which agrees with torch's counter on
    the first step of every phase (with n-gram and code lookups too: memory, no FLOPs); the
    unit lengths and the ratio loss reach metrics.jsonl."""
    _, rows = _train(corpus, tmp_path / "hier", "max_steps=12", *extra, *HIER_MODEL)
    measured = [r for r in rows if "step_flops_measured" in r]
    assert [r["phase"] for r in measured] == [1, 2, 3, 4]
    for row in measured:
        assert row["step_flops"] == pytest.approx(row["step_flops_measured"], rel=0.10)
    for key in ("bytes_per_word_unit", "words_per_phrase_unit", "loss_ratio"):
        assert all(key in r for r in rows), key
    late = [r for r in rows if r["phase"] >= 3]
    assert any("clean_bytes_per_word_unit" in r for r in late)


def test_max_flops_lays_the_schedule_over_the_steps_it_buys(corpus: Path, tmp_path: Path) -> None:
    _, full = _train(corpus, tmp_path / "full", "max_steps=6", "boundary_source=whitespace",
                     *MICRO_MODEL, "model.bit_unique=false")  # fmt: skip
    budget = full[3]["train_flops"]  # what 4 steps cost
    result, rows = _train(
        corpus,
        tmp_path / "budget",
        "max_steps=1000",
        f"max_flops={budget}",
        "boundary_source=whitespace",
        *MICRO_MODEL,
        "model.bit_unique=false",  # each step's cost is then the planned one exactly
    )
    assert result.total_steps == 4 and result.step == 4
    assert result.train_flops == pytest.approx(budget)
    assert rows[-1]["train_flops"] <= budget * (1 + 1e-9)
    state = json.loads(
        (tmp_path / "budget" / "checkpoints" / "step-00000004" / "trainer_state.json").read_text()
    )
    assert state["total_steps"] == 4 and state["train_flops"] == pytest.approx(budget)


def test_a_step_cap_below_the_budget_is_named(
    corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # max_steps binds before max_flops: the run ends early, and the log says which key to raise.
    with caplog.at_level(logging.WARNING, logger="bittrain.trainer.setup"):
        result, _ = _train(corpus, tmp_path / "capped", "max_steps=2", "max_flops=1e18",
                           "boundary_source=whitespace", *MICRO_MODEL)  # fmt: skip
    assert result.total_steps == 2
    assert any("raise --max-steps" in r.getMessage() for r in caplog.records)
