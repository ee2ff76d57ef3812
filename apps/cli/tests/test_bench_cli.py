"""`bitlab bench train` from the command line: --json, --kind, and one-line usage errors."""

from __future__ import annotations

import json

import pytest
from bitlab.main import invoke


@pytest.mark.slow
def test_bench_train_quick_json_for_one_kind(capsys) -> None:
    assert invoke(["bench", "train", "--quick", "--kind", "byte", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)["benchmarks"]
    assert report["name"] == "train"
    (case,) = report["cases"]
    assert case["kind"] == "byte" and case["flops_per_step"] > 0 and not case["compiled"]
    assert {row["case"] for row in report["rows"]} == {case["case"]}


def test_train_options_on_another_bench_and_an_unknown_kind_are_one_line_errors(capsys) -> None:
    assert invoke(["bench", "codec", "--kind", "byte"]) == 2
    assert "bench train" in capsys.readouterr().err
    assert invoke(["bench", "train", "--quick", "--kind", "gpt"]) == 2
    err = capsys.readouterr().err
    assert "no case 'gpt'" in err and len(err.strip().splitlines()) == 1
