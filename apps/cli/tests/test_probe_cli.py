"""`bitlab probe`: a frozen baseline model, TSV/CSV files, probe.json, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bitlab.main import invoke


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    import torch
    from bitbaselines import ByteMLMConfig
    from bittrain.tasks.baseline_task import ByteTask

    root = tmp_path_factory.mktemp("probe")
    torch.manual_seed(0)
    task = ByteTask(ByteMLMConfig(d_model=32, n_layers=1, n_heads=2, window=8), seed=0)
    task.save_pretrained(task.model, root / "run" / "model")
    rng = np.random.default_rng(0)
    alphabets = {"neg": "xyzw ", "pos": "pqrs "}

    def write(name: str, n: int, csv: bool = False) -> str:
        labels = rng.choice(["neg", "pos"], size=n)
        rows = ["".join(rng.choice(list(alphabets[c]), size=int(rng.integers(5, 25))))
                for c in labels]  # fmt: skip
        if csv:
            text = "label,review\n" + "".join(
                f'{c},"{r}"\n' for c, r in zip(labels, rows, strict=True)
            )
        else:
            text = "sentence\tlabel\n" + "".join(
                f"{r}\t{c}\n" for c, r in zip(labels, rows, strict=True)
            )
        (root / name).write_text(text, encoding="utf-8")
        return str(root / name)

    return {"root": root, "run": str(root / "run"), "train": write("train.tsv", 100),
            "test": write("test.tsv", 60), "csv": write("all.csv", 120, csv=True)}  # fmt: skip


def test_probe_reports_and_writes_probe_json(lab, capsys):
    out = lab["root"] / "out"
    code = invoke(["probe", lab["run"], "--train", lab["train"], "--test", lab["test"],
                   "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "probe.json").read_text())
    assert printed["accuracy"] == saved["accuracy"] >= 0.9
    assert [row["label"] for row in saved["per_class"]] == ["neg", "pos"]
    assert sum(row["support"] for row in saved["per_class"]) == 60
    assert saved["command"].startswith("bitlab probe ") and "--test" in saved["command"]
    assert (out / "confusion.png").stat().st_size > 1000


def test_probe_csv_with_hold_out_and_rich_table(lab, capsys):
    code = invoke(["probe", lab["run"], "--train", lab["csv"], "--test-fraction", "0.25",
                   "--max-train", "50", "--out", str(lab["root"] / "csv")])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "macro avg" in text and "precision" in text and "accuracy" in text
    assert "weighted avg" in text and "f1-score" in text  # scikit-learn's layout
    assert "chosen by 5-fold cross-validation on the training split" in text
    saved = json.loads((lab["root"] / "csv" / "probe.json").read_text())
    assert saved["num_train"] == 50 and saved["num_test"] == 30


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bitlab: error:"), err
    return err[0]


def test_probe_errors_are_one_line(lab, tmp_path, capsys):
    assert invoke(["probe", lab["run"], "--train", str(tmp_path / "nope.tsv")]) == 2
    assert "does not exist" in _one_error_line(capsys)
    assert invoke(["probe", str(tmp_path), "--train", lab["train"]]) == 2
    assert "model/config.json" in _one_error_line(capsys)
    assert invoke(["probe", lab["run"], "--train", lab["train"], "--label-col", "klass"]) == 2
    assert "'klass' is not a column" in _one_error_line(capsys)
