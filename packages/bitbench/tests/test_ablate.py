"""Ablation grids: parsing (seeds, [score], extends), the shipped grids, planning with seeds and
--resume, the runner, the table over seeds."""

from __future__ import annotations

import re

import pytest
from bitbench.ablation import (
    default_grid_path,
    load_grid,
    parse_grid,
    plan_ablation,
    render_markdown,
    run_ablation,
    shipped_grid_path,
    summarize,
)
from bitbench.ablation import plan as plan_module
from bitbench.ablation import runner as runner_module
from bitbench.ablation.grid import flatten
from bitbench.ablation.scoring import Stage
from bitbench.ablation.summary import Column, fmt_stat
from bitbench.errors import BitbenchError
from bittrain.fileio import write_json_atomic

GRID = """
config = "tiny"
[base]
max_steps = 10
[[run]]
name = "ref"
ablation = ["a", "b"]
[[run]]
name = "x"
ablation = "a"
set = { mask = { span_p = 0.5 }, lr = 1e-3 }
[[run]]
name = "t"
ablation = "table"
requires = ["table_mode"]
note = "why"
"""


def test_flatten_and_parse():
    assert flatten({"mask": {"span_p": 0.5, "x": {"y": 1}}, "lr": 1}) == {
        "mask.span_p": 0.5, "mask.x.y": 1, "lr": 1}  # fmt: skip
    grid = parse_grid(GRID, "g.toml")
    assert grid.groups() == ["a", "b", "table"]
    assert grid.runs[1].overrides == {"mask.span_p": 0.5, "lr": 1e-3}
    assert grid.runs[0].ablations == ("a", "b") and grid.base == {"max_steps": 10}
    assert grid.title == "g" and grid.eval == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GRID + "\nfoo = 1\n", "unknown key 'foo'"),
        (GRID.replace('note = "why"', 'nope = "why"'), "unknown key 'nope'"),
        (GRID.replace("lr = 1e-3", "seq_len = 64"), "runs share one budget"),
        (GRID.replace('name = "x"', 'name = "ref"'), "duplicate run names"),
        (GRID.replace('ablation = "a"\n', ""), "has no ablation"),
        (GRID.replace('requires = ["table_mode"]', "requires = []"), "non-empty"),
        ('config = "tiny"\n', "no [[run]] entries"),
        (GRID + "\n[eval]\nwindows = 0\n", "windows is 0"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(BitbenchError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_grid(text, "g.toml")


def test_seeds_score_and_extends(tmp_path):
    grid = parse_grid(GRID.replace("[base]", "seeds = [3, 1]\n[base]"), "g.toml")
    assert grid.seeds == (3, 1) and "seed" not in grid.base
    assert parse_grid(GRID.replace("[base]", "[base]\nseed = 7"), "g.toml").seeds == (7,)
    assert grid.score.stages == ("bpb", "qa", "probe", "segment")
    parent = tmp_path / "parent.toml"
    parent.write_text(GRID + '\n[eval]\nwindows = 4\nseq_len = 64\n[score.qa]\nmax_questions = 9\n'
                      '[score.qa.datasets]\nsquad = "s.json"\n', encoding="utf-8")  # fmt: skip
    child = parse_grid('extends = "parent.toml"\ntitle = "c"\n[base]\nlr = 0.5\n[eval]\n'
                       "windows = 2\n[score.qa]\nmax_questions = 3\n",
                       str(tmp_path / "child.toml"))  # fmt: skip
    assert child.title == "c" and [r.name for r in child.runs] == ["ref", "x", "t"]
    assert child.base == {"max_steps": 10, "lr": 0.5}
    assert child.eval == {"windows": 2, "seq_len": 64}
    assert child.score.qa.max_questions == 3 and child.score.qa.datasets == {"squad": "s.json"}
    (tmp_path / "loop.toml").write_text('extends = "loop.toml"\n', encoding="utf-8")
    with pytest.raises(BitbenchError, match="leads back to itself"):
        load_grid(tmp_path / "loop.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seeds = [0, 0]\n" + GRID, "distinct integers"),
        ("seeds = [0]\n" + GRID.replace("[base]", "[base]\nseed = 1"), "seeds and [base] seed"),
        (GRID + "\n[score]\nstages = ['bpb', 'gold']\n", "use some of"),
        (GRID + "\n[score.qa]\nmodes = ['guess']\n", "use probe, finetune or cloze"),
        (GRID + "\n[score.probe]\nmax_trian = 3\n", "unknown key 'max_trian'"),
        (GRID + "\n[score.segment]\nlines = 0\n", "segment.lines must be >= 1"),
        (GRID + "\n[score.probe.datasets.x]\ntest = 'a.tsv'\n", "datasets.x needs train = "),
        ('extends = "no_such_grid.toml"\n' + GRID, "does not exist"),
    ],
)
def test_score_and_seed_errors(text, message):
    with pytest.raises(BitbenchError, match=re.escape(message)):
        parse_grid(text, "g.toml")


def test_shipped_grids_cover_the_masking_study_and_seed_5_4():
    grid = load_grid("default")
    assert default_grid_path() == shipped_grid_path("default") and default_grid_path().is_file()
    assert grid.groups() == ["levels", "schedule", "table", "windows", "placement", "choice"]
    assert grid.seeds == (0, 1) and grid.base["max_flops"] > 0 and grid.base["max_minutes"] == 0
    assert set(grid.score.stages) == {"bpb", "qa", "probe", "segment"}
    assert set(grid.score.qa.datasets) == {"squad", "cmrc"}
    assert set(grid.score.probe.datasets) == {"sst2", "chnsenticorp"}
    assert set(grid.score.segment.datasets) == {"pku"}
    for group in grid.groups():
        assert sum(group in r.ablations for r in grid.runs) >= 2  # something to compare
    curriculum = next(r for r in grid.runs if r.name == "curriculum")
    assert curriculum.overrides == {}  # the tiny-curriculum config as shipped
    assert grid.config == "tiny-curriculum"  # the four masking levels the variants vary
    smoke = load_grid("smoke")
    assert [r.name for r in smoke.runs] == [r.name for r in grid.runs]
    assert smoke.seeds == grid.seeds and smoke.base["max_flops"] < grid.base["max_flops"]
    assert smoke.score.qa.max_questions < grid.score.qa.max_questions


def _fake_build(monkeypatch, checked=None):
    def build(grid, overrides, run_dir, corpus):
        if checked is not None:
            checked.append((run_dir, overrides))
        return None

    monkeypatch.setattr(plan_module, "build_config", build)
    monkeypatch.setattr(plan_module, "_check_same_settings", lambda *args: None)


def test_plan_statuses_seeds_and_resume(tmp_path, monkeypatch):
    grid = parse_grid("seeds = [0, 1]\n" + GRID, "g.toml")
    checked = []
    _fake_build(monkeypatch, checked)
    monkeypatch.setattr(plan_module, "has_setting", lambda key: key != "table_mode")
    stages = [Stage("bpb", "bpb", "", {"eval": {}})]
    planned = plan_ablation(grid, tmp_path, "c.zarr", stages=stages)
    assert [(p.name, p.seed, p.status) for p in planned] == [
        ("ref", 0, "planned"), ("ref", 1, "planned"), ("x", 0, "planned"), ("x", 1, "planned"),
        ("t", 0, "unavailable"), ("t", 1, "unavailable")]  # fmt: skip
    assert "'table_mode'" in planned[4].reason and "why" in planned[4].reason
    assert planned[3].run_dir == tmp_path / "x" / "seed-1"
    assert checked[3][1] == {"max_steps": 10, "mask.span_p": 0.5, "lr": 1e-3, "seed": 1}
    # ref seed 0 trained and scored, ref seed 1 trained only
    for seed in (0, 1):
        (tmp_path / "ref" / f"seed-{seed}" / "model").mkdir(parents=True)
        (tmp_path / "ref" / f"seed-{seed}" / "model" / "config.json").write_text("{}")
    write_json_atomic(tmp_path / "ref" / "seed-0" / "scores" / "bpb.json",
                      {"settings": {"eval": {}}, "status": "ok", "metrics": {}})  # fmt: skip
    with pytest.raises(BitbenchError, match="pass --resume"):
        plan_ablation(grid, tmp_path, "c.zarr", stages=stages)
    resumed = plan_ablation(grid, tmp_path, "c.zarr", stages=stages, only=["a"], resume=True)
    assert [(p.name, p.seed, p.status) for p in resumed] == [
        ("ref", 0, "finished"), ("ref", 1, "trained"), ("x", 0, "planned"), ("x", 1, "planned")]  # fmt: skip
    changed = [Stage("bpb", "bpb", "", {"eval": {"windows": 3}})]  # other settings: measure again
    assert plan_ablation(grid, tmp_path, "c.zarr", stages=changed, only=["ref"],
                         resume=True)[0].status == "trained"  # fmt: skip

    def reject(grid, overrides, run_dir, corpus):
        raise ValueError("model key 'widht' is unknown")

    monkeypatch.setattr(plan_module, "build_config", reject)
    with pytest.raises(BitbenchError, match="grid run 'ref': model key 'widht'"):
        plan_ablation(grid, tmp_path, "c.zarr", stages=stages, resume=True)


def test_runner_records_failures_and_the_table_lists_every_group_and_seed(tmp_path, monkeypatch):
    grid = parse_grid("seeds = [0, 1]\n" + GRID, "g.toml")
    _fake_build(monkeypatch)
    monkeypatch.setattr(plan_module, "has_setting", lambda key: False)
    stages = [Stage("bpb", "bpb", "", {"eval": {}})]
    planned = plan_ablation(grid, tmp_path, "c.zarr", stages=stages)

    def train(grid, overrides, run_dir, corpus, **kwargs):
        if run_dir.parent.name == "x" and overrides["seed"] == 1:
            raise ValueError("loss is NaN at step 3")
        return {"status": "ok", "step": 10, "train_flops": 2e12, "elapsed_s": 1.5}

    def score(run_dir, corpus, stages, **kwargs):
        bpb = 2.0 + 0.5 * int(run_dir.name[-1])  # seed 0: 2.0, seed 1: 2.5
        return {"bpb": {"status": "ok", "reason": "", "metrics": {"bpb_words": bpb}}}

    monkeypatch.setattr(runner_module, "train_run", train)
    monkeypatch.setattr(runner_module, "score_run", score)
    rows = run_ablation(grid, planned, "c.zarr", stages)
    by = {(r["name"], r["seed"]): r for r in rows}
    assert by[("ref", 1)]["metrics"] == {"bpb_words": 2.5} and by[("ref", 0)]["steps"] == 10
    assert by[("x", 1)]["status"] == "failed" and "NaN" in by[("x", 1)]["reason"]
    assert by[("t", 0)]["status"] == "unavailable"
    cols = [Column("bpb_words", "bpb words", False)]
    summary = summarize(rows, cols)
    ref = next(e for e in summary if e["name"] == "ref")
    assert ref["values"]["bpb_words"]["mean"] == pytest.approx(2.25)
    assert ref["values"]["bpb_words"]["sd"] == pytest.approx(0.5 / 2**0.5)  # sample sd of 2.0, 2.5
    assert fmt_stat(ref["values"]["bpb_words"]) == "2.250 ± 0.354"
    md = render_markdown(grid, rows, summary, cols, "bitlab ablate --grid g.toml")
    assert "| a | ref | reference (no change) | 2 (ok) | 2 | 10 | 2.250 ± 0.354 |" in md
    assert "| b | ref |" in md  # the reference appears in each of its groups
    assert "| a | x | mask.span_p=0.5, lr=0.001 | 2 (1/2 seeds ok) | 2 | 10 | 2.000 |" in md
    assert "- `t` seed 0 (unavailable)" in md and "- `x` seed 1 (failed): ValueError: loss" in md


def test_tables_are_resolved_and_built_once(tmp_path, monkeypatch):
    import numpy as np
    from bitbench.ablation.tables import build_referenced_tables, resolve_references

    grid = parse_grid(GRID + '\n[tables.ws]\nprior = "whitespace"\nwindows = 6\nseq_len = 40\n'
                      '[[run]]\nname = "tab"\nablation = "table"\n'
                      'set = { table_codes = "@tables.ws" }\n', "g.toml")  # fmt: skip
    monkeypatch.setattr(plan_module, "build_config", lambda *args: None)
    planned = plan_ablation(grid, tmp_path, "c.zarr", stages=[])
    tab = next(p for p in planned if p.name == "tab")
    assert tab.overrides["table_codes"] == str(tmp_path / "tables" / "ws")
    assert tab.overrides["seed"] == 0
    with pytest.raises(BitbenchError, match=r"no \[tables.zz\]"):
        resolve_references({"table_codes": "@tables.zz"}, grid.tables, tmp_path, "r")

    class Split:
        num_bytes = 4000
        calls = 0

        def sample_windows(self, n, length, rng):
            Split.calls += 1
            w = np.frombuffer((b"the cat sat on the mat " * 200)[: n * length], np.uint8)
            return w.reshape(n, length).copy(), np.zeros((n, length), bool)

    class Corpus:
        train = Split()

    paths = build_referenced_tables(grid.tables, [p.overrides for p in planned], Corpus(), tmp_path)
    assert paths == [tmp_path / "tables" / "ws"] and any(paths[0].iterdir())
    from enctable import AdaptiveEncodingTable

    table = AdaptiveEncodingTable.load(paths[0])
    assert table.decode(table.encode(b"the cat sat", 2), 2) == b"the cat sat"
    calls = Split.calls
    build_referenced_tables(grid.tables, [p.overrides for p in planned], Corpus(), tmp_path)
    assert Split.calls == calls  # reused


def test_plot_limits_hold_every_seed_and_spread_and_equal_values_stay_visible():
    from bitbench.ablation.report import _zoom

    stats = [{"values": [2.0, 2.5], "mean": 2.25, "sd": 0.354},
             {"values": [2.4], "mean": 2.4, "sd": None}]  # fmt: skip
    low, high = _zoom(stats)
    assert low < 2.25 - 0.354 and high > 2.5 and low > 1.0  # zoomed in, nothing cut
    low, high = _zoom([{"values": [0.0, 0.0], "mean": 0.0, "sd": 0.0}])
    assert low == 0.0 and high >= 0.05
    assert _zoom([{"values": [0.0, 9.0], "mean": 4.5, "sd": 6.4}])[0] == 0.0  # F1 stays >= 0
