"""Ablation grids: parsing, the shipped grid, planning, the comparison table."""

from __future__ import annotations

import pytest
from bitbench.ablation import (
    default_grid_path,
    load_grid,
    parse_grid,
    plan_ablation,
    render_markdown,
    run_ablation,
)
from bitbench.ablation import plan as plan_module
from bitbench.ablation import runner as runner_module
from bitbench.ablation.grid import flatten
from bitbench.errors import BitbenchError

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


def test_shipped_grid_covers_the_four_ablations():
    grid = load_grid("default")
    assert default_grid_path().is_file()
    assert set(grid.groups()) == {"masking_levels", "encoding_table", "window_sizes",
                                  "masking_strategy"}  # fmt: skip
    reference = next(r for r in grid.runs if r.name == "reference")
    assert reference.overrides == {} and len(reference.ablations) == 4
    assert grid.tables["prior"].prior == "whitespace"
    for group in grid.groups():
        assert sum(group in r.ablations for r in grid.runs) >= 2  # something to compare
    assert "max_steps" in grid.base and "seed" in grid.base
    assert grid.config == "tiny-curriculum"  # the four masking levels the ablations vary


def test_plan_marks_missing_settings_unavailable_and_reuses_finished_runs(tmp_path, monkeypatch):
    grid = parse_grid(GRID, "g.toml")
    (tmp_path / "ref" / "model").mkdir(parents=True)
    (tmp_path / "ref" / "model" / "config.json").write_text("{}")
    checked = []
    monkeypatch.setattr(plan_module, "has_setting", lambda key: key != "table_mode")
    monkeypatch.setattr(plan_module, "build_config",
                        lambda grid, o, d, corpus: checked.append((d.name, o)))  # fmt: skip
    planned = plan_ablation(grid, tmp_path, "c.zarr")
    status = {p.name: p.status for p in planned}
    assert status == {"ref": "reused", "x": "planned", "t": "unavailable"}
    assert "'table_mode'" in planned[2].reason and "why" in planned[2].reason
    assert checked[1] == ("x", {"max_steps": 10, "mask.span_p": 0.5, "lr": 1e-3})
    assert [p.name for p in plan_ablation(grid, tmp_path, "c.zarr", only=["a"])] == ["ref", "x"]

    def reject(grid, overrides, run_dir, corpus):
        raise ValueError("model key 'widht' is unknown")

    monkeypatch.setattr(plan_module, "build_config", reject)
    with pytest.raises(BitbenchError, match="grid run 'ref': model key 'widht'"):
        plan_ablation(grid, tmp_path, "c.zarr")


def test_runner_records_failures_and_the_table_lists_every_group(tmp_path, monkeypatch):
    grid = parse_grid(GRID, "g.toml")
    monkeypatch.setattr(plan_module, "has_setting", lambda key: False)
    monkeypatch.setattr(plan_module, "build_config", lambda *args: None)
    planned = plan_ablation(grid, tmp_path, "c.zarr")

    def train(grid, overrides, run_dir, corpus, **kwargs):
        if run_dir.name == "x":
            raise ValueError("loss is NaN at step 3")
        return {"status": "ok", "step": 10, "elapsed_s": 1.5}

    def evaluate(item, corpus, settings, device):
        return {"bpb": 2.5, "acc_bit": 0.9, "training": {"steps": 10}}

    monkeypatch.setattr(runner_module, "train_run", train)
    monkeypatch.setattr(runner_module, "evaluate_planned", evaluate)
    rows = run_ablation(grid, planned, "c.zarr")
    by_name = {r["name"]: r for r in rows}
    assert by_name["ref"]["bpb"] == 2.5 and by_name["ref"]["steps"] == 10
    assert by_name["x"]["status"] == "failed" and "NaN" in by_name["x"]["reason"]
    assert by_name["t"]["status"] == "unavailable"
    md = render_markdown(grid, rows, "bitlab ablate --grid g.toml")
    assert "| a | ref | reference (no change) | ok | 10 | 2.5000 | 0.9000 |" in md
    assert "| b | ref |" in md  # the reference appears in each of its groups
    assert "| a | x | mask.span_p=0.5, lr=0.001 | failed |" in md
    assert "- `t` (unavailable)" in md and "- `x` (failed): ValueError: loss is NaN" in md


def test_tables_are_resolved_and_built_once(tmp_path, monkeypatch):
    import numpy as np
    from bitbench.ablation.tables import build_referenced_tables, resolve_references

    grid = parse_grid(GRID + '\n[tables.ws]\nprior = "whitespace"\nwindows = 6\nseq_len = 40\n'
                      '[[run]]\nname = "tab"\nablation = "table"\n'
                      'set = { table_codes = "@tables.ws" }\n', "g.toml")  # fmt: skip
    monkeypatch.setattr(plan_module, "build_config", lambda *args: None)
    planned = plan_ablation(grid, tmp_path, "c.zarr")
    tab = next(p for p in planned if p.name == "tab")
    assert tab.overrides["table_codes"] == str(tmp_path / "tables" / "ws")
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
