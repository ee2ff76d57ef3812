"""`bitlab ablate`: a tiny 2-run grid end to end, the plan, and one-line grid errors."""

from __future__ import annotations

import json

import pytest
from bitlab.main import invoke
from bittrain.fixtures import write_sample_corpus

TINY_GRID = """
title = "tiny test grid"
config = "tiny"

[base]
seed = 0
max_steps = 3
batch_size = 2
seq_len = 32
eval_every = 0
eval_windows = 2
log_every = 1
checkpoint_every = 3
table_update_every = 2
"model.depths" = [1, 1]
"model.widths" = [16, 32]
"model.heads" = [1, 2]
"model.windows_bits" = [8, 24]

[eval]
windows = 2
seq_len = 32
text_bytes = 2000
table_windows = 4
consistency_occurrences = 50

[[run]]
name = "reference"
ablation = "masking_levels"

[[run]]
name = "bit_only"
ablation = "masking_levels"
set = { mask = { byte_start = 1e9, word_start = 1e9, phrase_start = 1e9 } }

[tables.prior]
prior = "whitespace"
windows = 8
seq_len = 64
max_size = 200

[[run]]
name = "table_fixed"
ablation = "encoding_table"
requires = ["table_mode", "table_codes"]
set = { table_codes = "@tables.prior", table_mode = "fixed" }

[[run]]
name = "future"
ablation = "encoding_table"
requires = ["no_such_setting"]
set = { table_mode = "adaptive" }
note = "needs a newer trainer"
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_sample_corpus(tmp_path_factory.mktemp("corpus") / "c.zarr", n_docs=60)


def _grid(tmp_path, text: str = TINY_GRID):
    path = tmp_path / "grid.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_tiny_grid_end_to_end(tmp_path, corpus, capsys):
    out = tmp_path / "abl"
    code = invoke(["ablate", "--grid", _grid(tmp_path), "--corpus", str(corpus), "--out", str(out),
                   "--json"])  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    rows = {row["name"]: row for row in result["runs"]}
    assert rows["reference"]["status"] == rows["bit_only"]["status"] == "ok"
    assert rows["future"]["status"] == "unavailable"
    assert "'no_such_setting'" in rows["future"]["reason"] and "newer" in rows["future"]["reason"]
    assert rows["table_fixed"]["status"] == "ok"  # the table was built first, then fed as codes
    assert (out / "tables" / "prior").is_dir()
    table_cfg = json.loads((out / "table_fixed" / "model" / "config.json").read_text())
    assert table_cfg["code_vocab_size"] > 0
    for name in ("reference", "bit_only", "table_fixed"):
        assert rows[name]["bpb"] > 0 and rows[name]["steps"] == 3
        assert (out / name / "model" / "config.json").is_file()
        assert (out / name / "eval" / "metrics.json").is_file()
    # the two runs differ only in what they mask: same budget, different training
    assert rows["reference"]["bpb"] != rows["bit_only"]["bpb"]
    report = (out / "ablation.md").read_text()
    assert "| masking_levels | reference |" in report and "| masking_levels | bit_only |" in report
    assert "mask.byte_start=1000000000.0" in report and "## Not measured" in report
    assert "bitlab ablate --grid" in report
    assert (out / "ablation_bpb.png").stat().st_size > 1000
    saved = json.loads((out / "ablation.json").read_text())
    assert [r["name"] for r in saved["runs"]] == ["reference", "bit_only", "table_fixed", "future"]
    # a second call reuses the finished runs instead of training them again
    assert invoke(["ablate", "--grid", _grid(tmp_path), "--corpus", str(corpus), "--out", str(out),
                   "--only", "reference", "--json"]) == 0  # fmt: skip
    again = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in again["runs"]] == ["reused"]
    assert again["runs"][0]["bpb"] == pytest.approx(rows["reference"]["bpb"])


def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path, corpus, capsys):
    out = tmp_path / "plan"
    assert invoke(["ablate", "--grid", "default", "--corpus", str(corpus), "--out", str(out),
                   "--dry-run", "--max-minutes-per-run", "2", "--json"]) == 0  # fmt: skip
    plan = json.loads(capsys.readouterr().out)
    names = [r["name"] for r in plan["runs"]]
    assert {"reference", "bit_only", "table_fixed", "windows_small", "units_whitespace"} <= set(
        names
    )
    assert all(r["overrides"]["max_minutes"] == 2 for r in plan["runs"])
    assert not out.exists()
    assert invoke(["ablate", "--corpus", str(corpus), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "ablation plan" in text and "table_adaptive" in text


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bitlab: error:"), err
    return err[0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda g: g.replace('title = "tiny test grid"', 'titel = "x"'), "unknown key 'titel'"),
        (
            lambda g: g.replace('ablation = "encoding_table"', 'ablation = "t"\nsteps = 4'),
            "unknown key 'steps'",
        ),
        (
            lambda g: g.replace('set = { table_mode = "adaptive" }', "set = { max_steps = 9 }"),
            "runs share one budget",
        ),
        (lambda g: g.replace('"@tables.prior"', '"@tables.nope"'), "no [tables.nope]"),
        (lambda g: g.replace('prior = "whitespace"', 'prior = "magic"'), "not one of"),
        (lambda g: g.replace('name = "bit_only"', 'name = "reference"'), "duplicate run names"),
        (lambda g: g.replace("byte_start = 1e9", "byte_strat = 1e9"), "byte_strat"),
        (
            lambda g: g.replace(
                'name = "reference"\nablation = "masking_levels"',
                'name = "reference"\nablation = "masking_levels"\nset = { lr_x = 1 }',
            ),
            "grid run 'reference'",
        ),
        (lambda g: g.replace("[eval]\nwindows = 2", "[eval]\nwindow = 2"), "unknown key 'window'"),
        (lambda g: g + "\n[[run]]\nname = 'bad name!'\nablation = 'x'\n", "letters, digits"),
        (lambda g: g.replace("[base]", "[base"), "not valid TOML"),
    ],
)
def test_grid_errors_are_one_line(tmp_path, corpus, capsys, edit, message):
    code = invoke(["ablate", "--grid", _grid(tmp_path, edit(TINY_GRID)), "--corpus", str(corpus),
                   "--out", str(tmp_path / "o"), "--dry-run"])  # fmt: skip
    assert code == 2
    assert message in _one_error_line(capsys)


def test_missing_grid_and_unknown_only(tmp_path, corpus, capsys):
    assert invoke(["ablate", "--grid", str(tmp_path / "nope.toml"), "--corpus", str(corpus),
                   "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert "does not exist" in _one_error_line(capsys)
    assert invoke(["ablate", "--grid", _grid(tmp_path), "--corpus", str(corpus), "--out",
                   str(tmp_path / "o"), "--only", "nothing", "--dry-run"]) == 2  # fmt: skip
    assert "matches no run" in _one_error_line(capsys)
