"""`bitlab ablate`: a tiny grid (2 runs x 2 seeds, every yardstick on data made here) end to end
and resumed, the plan of the shipped grid, and one-line grid errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bitlab.main import invoke
from bittrain.fixtures import write_sample_corpus

TINY_GRID = """
title = "tiny test grid"
config = "tiny"
seeds = [0, 1]

[base]
max_flops = 1e8
max_steps = 100
batch_size = 2
seq_len = 32
eval_every = 0
eval_windows = 2
log_every = 1
checkpoint_every = 100
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

[score.qa]
modes = ["probe", "cloze"]
max_questions = 4
train_questions = 6
window = 128
stride = 32
max_question_bytes = 32
probe_iterations = 5
cloze_steps = 1
[score.qa.datasets]
tiny = "qa.json"
[score.probe]
max_train = 16
max_test = 8
folds = 2
[score.probe.datasets.toy]
train = "labels.tsv"
[score.probe.datasets.gone]
train = "no_such_file.tsv"
[score.segment]
lines = 4
seq_len = 64
[score.segment.datasets.toy]
gold = "gold.txt"
dict = "words.txt"

[[run]]
name = "reference"
ablation = "levels"

[[run]]
name = "bytes_only"
ablation = "levels"
set = { mask = { byte_start = 0.0, mix_bit = 0.0, mix_byte = 1.0, mix_word = 0.0, mix_phrase = 0.0 } }

[[run]]
name = "future"
ablation = "table"
requires = ["no_such_setting"]
set = { table_mode = "adaptive" }
note = "needs a newer trainer"
"""

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "red", "hat", "big"]


def _score_data(root: Path) -> None:
    """Tiny QA, probe and segmentation data, made here (the grid reads them under --data-root)."""
    articles = []
    for a in range(4):
        paragraphs = []
        for p in range(2):
            words = [WORDS[(a * 5 + p * 3 + i) % len(WORDS)] for i in range(24)]
            head = f"part {a} {p}:"  # every context differs (an article is train or test)
            context = " ".join([head, *words]) + "."
            qas = []
            for q in range(2):
                answer = words[4 + 7 * q]
                start = len(" ".join([head, *words[: 4 + 7 * q]])) + 1
                assert context[start : start + len(answer)] == answer
                qas.append({"id": f"a{a}p{p}q{q}", "question": f"what follows {words[3 + 7 * q]}?",
                            "answers": [{"text": answer, "answer_start": start}],
                            "is_impossible": False})  # fmt: skip
            paragraphs.append({"context": context, "qas": qas})
        articles.append({"title": f"article {a}", "paragraphs": paragraphs})
    (root / "qa.json").write_text(json.dumps({"version": "v2.0", "data": articles}), "utf-8")
    rows = ["sentence\tlabel"] + [
        f"{' '.join(WORDS[(i + j) % len(WORDS)] for j in range(5))}\t{i % 2}" for i in range(30)
    ]
    (root / "labels.tsv").write_text("\n".join(rows) + "\n", "utf-8")
    lines = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(6)) for i in range(6)]
    (root / "gold.txt").write_text("\n".join(lines) + "\n", "utf-8")
    (root / "words.txt").write_text("\n".join(WORDS[:8]) + "\n", "utf-8")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_sample_corpus(tmp_path_factory.mktemp("corpus") / "c.zarr", n_docs=60)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    _score_data(root)
    return root


def _grid(tmp_path, text: str = TINY_GRID):
    path = tmp_path / "grid.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.slow
def test_tiny_grid_end_to_end_and_resume(tmp_path, corpus, data_root, capsys):
    out = tmp_path / "abl"
    args = ["ablate", "--grid", _grid(tmp_path), "--corpus", str(corpus), "--out", str(out),
            "--data-root", str(data_root), "--json"]  # fmt: skip
    assert invoke(args) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {(row["name"], row["seed"]): row for row in result["runs"]}
    assert rows[("future", 0)]["status"] == "unavailable"
    assert "'no_such_setting'" in rows[("future", 1)]["reason"]
    for name in ("reference", "bytes_only"):
        for seed in (0, 1):
            row = rows[(name, seed)]
            assert row["status"] == "ok", row
            # the FLOP budget ends training (at the step that reaches it)
            assert 1e8 <= row["train_flops"] < 1.3e8 and row["steps"] >= 2
            m = row["metrics"]
            assert all(m[f"bpb_{p}"] > 0 for p in ("words", "tokens", "bytes"))
            assert 0 <= m["qa_tiny_probe_f1"] <= 100 and 0 <= m["qa_tiny_cloze_f1"] <= 100
            assert 0 <= m["probe_toy_acc"] <= 1 and 0 <= m["segment_toy_word_f"] <= 1
            assert m["qa_tiny_n"] >= 1 and m["segment_toy_lines"] == 4
            assert row["stages"]["probe_gone"]["status"] == "skipped"
            assert (out / name / f"seed-{seed}" / "scores" / "qa_tiny.json").is_file()
    # the two seeds train different models; the two runs differ only in their masks
    assert (
        rows[("reference", 0)]["metrics"]["bpb_words"]
        != rows[("reference", 1)]["metrics"]["bpb_words"]
    )
    variants = {v["name"]: v for v in result["variants"]}
    stat = variants["reference"]["values"]["bpb_words"]
    assert stat["n"] == 2 and stat["sd"] > 0
    assert stat["mean"] == pytest.approx(
        (rows[("reference", 0)]["metrics"]["bpb_words"] + rows[("reference", 1)]["metrics"]["bpb_words"]) / 2
    )  # fmt: skip
    report = (out / "ablation.md").read_text()
    assert "| levels | reference | reference (no change) | 2 (ok) |" in report
    assert "QA F1 tiny probe" in report and "toy word F" in report and "±" in report
    assert "probe_gone skipped: data file" in report and "- qa_tiny: `" in report
    assert (out / "ablation.png").stat().st_size > 1000
    saved = json.loads((out / "ablation.json").read_text())
    assert [(r["name"], r["seed"]) for r in saved["runs"]] == list(rows)

    # without --resume an OUT holding the grid is refused; with it nothing trains or scores again
    assert invoke(args) == 2
    assert "--resume" in _one_error_line(capsys)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if "seed-" in str(p) and p.is_file()}
    first_md, first_json = report, saved
    assert invoke([*args, "--resume"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert all(r["resumed"] for r in again["runs"] if r["status"] != "unavailable")
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing rewritten
    assert (out / "ablation.md").read_text() == first_md
    assert json.loads((out / "ablation.json").read_text())["variants"] == first_json["variants"]


@pytest.mark.slow
def test_jobs_train_runs_side_by_side_and_say_wall_clock_is_not_comparable(
    tmp_path, corpus, capsys
):
    grid = TINY_GRID.replace("seeds = [0, 1]", "seeds = [0]").replace(
        "[score.qa]", "[score]\nstages = ['bpb']\n[score.qa]"
    )
    out = tmp_path / "jobs"
    assert invoke(["ablate", "--grid", _grid(tmp_path, grid), "--corpus", str(corpus), "--out",
                   str(out), "--jobs", "2", "--json"]) == 0  # fmt: skip
    rows = json.loads(capsys.readouterr().out)["runs"]
    trained = [r for r in rows if r["status"] != "unavailable"]
    assert [r["status"] for r in trained] == ["ok", "ok"] and all(r["jobs"] == 2 for r in trained)
    assert all(r["metrics"]["bpb_words"] > 0 for r in trained)
    report = (out / "ablation.md").read_text()
    assert "wall-clock minutes are not comparable" in report


def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path, corpus, capsys):
    out = tmp_path / "plan"
    assert invoke(["ablate", "--grid", "default", "--corpus", str(corpus), "--out", str(out),
                   "--dry-run", "--max-flops-per-run", "2e12", "--data-root",
                   str(tmp_path / "nodata"), "--json"]) == 0  # fmt: skip
    plan = json.loads(capsys.readouterr().out)
    names = [r["name"] for r in plan["runs"]]
    assert names[:2] == ["bytes_only", "bytes_only"] and len(names) == 20
    assert {"curriculum", "mixture", "bytes_hard_to_easy", "mixture_random_spans",
            "mixture_cohesion", "table_fixed", "table_adaptive", "windows_low",
            "windows_high"} <= set(names)  # fmt: skip
    assert all(r["overrides"]["max_flops"] == 2e12 for r in plan["runs"])
    assert {r["seed"] for r in plan["runs"]} == {0, 1}
    skipped = {y["stage"]: y["skipped"] for y in plan["yardsticks"]}
    assert skipped["bpb"] == "" and "not found" in skipped["qa_squad"]
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
            lambda g: g.replace('ablation = "table"', 'ablation = "t"\nsteps = 4'),
            "unknown key 'steps'",
        ),
        (
            lambda g: g.replace('set = { table_mode = "adaptive" }', "set = { max_flops = 9 }"),
            "runs share one budget",
        ),
        (
            lambda g: (
                g
                + '\n[[run]]\nname = "tab"\nablation = "t"\nset = { table_codes = "@tables.nope" }\n'
            ),
            "no [tables.nope]",
        ),
        (lambda g: g + '\n[tables.p]\nprior = "magic"\n', "not one of"),
        (lambda g: g.replace("seeds = [0, 1]", "seeds = [1, 1]"), "distinct integers"),
        (lambda g: g.replace("max_questions = 4", "max_questoins = 4"), "max_questoins"),
        (lambda g: g.replace("stride = 32", "stride = 90"), "[score].qa: --stride 90"),
        (lambda g: g.replace('name = "bytes_only"', 'name = "reference"'), "duplicate run names"),
        (lambda g: g.replace("byte_start = 0.0", "byte_strat = 0.0"), "byte_strat"),
        (
            lambda g: g.replace(
                'name = "reference"\nablation = "levels"',
                'name = "reference"\nablation = "levels"\nset = { lr_x = 1 }',
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
