"""`bitlab segment --sep '  '` writes the file the official SIGHAN scorer reads, and the scorer
run on it agrees with `bitlab eval --gold-seg --dict` (the scorer is skipped where absent)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from bitbench.sighan import parse_score_output
from bitlab.main import invoke

VOCAB = ["中国", "人民", "共同", "创造", "美好", "的", "新", "世纪", "发展", "经济", "了", "在",
         "北京", "２００１年", "，", "。", "WTO", "社会主义", "和", "是"]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    import torch
    from bitswin import BitSwinConfig, BitSwinModel

    root = tmp_path_factory.mktemp("sighan")
    torch.manual_seed(0)
    config = BitSwinConfig.tiny(depths=(1, 1, 1, 1), widths=(16, 32, 32, 32), heads=(2, 2, 2, 2))
    BitSwinModel(config).save_pretrained(root / "run" / "model")
    (root / "run" / "config.toml").write_text("batch_size = 2\nseq_len = 64\n")
    rng = np.random.default_rng(0)
    gold = ["  ".join(rng.choice(VOCAB, size=int(rng.integers(3, 25)))) for _ in range(40)]
    gold.insert(5, "")  # an empty line stays an empty line
    (root / "gold.txt").write_text("\r\n".join(gold) + "\r\n", encoding="utf-8")  # CRLF, as PKU
    (root / "test.txt").write_text("\n".join(g.replace(" ", "") for g in gold) + "\n")
    (root / "words.txt").write_text("\n".join(VOCAB[::2]) + "\n", encoding="utf-8")
    return {"root": root, "run": root / "run", "gold": root / "gold.txt", "test": root / "test.txt",
            "words": root / "words.txt"}  # fmt: skip


def test_segment_file_format(files, capsys):
    out = files["root"] / "seg.txt"
    argv = [
        "segment",
        str(files["run"]),
        "--file",
        str(files["test"]),
        "--sep",
        "  ",
        "--seq-len",
        "32",
    ]
    assert invoke([*argv, "--out", str(out)]) == 0
    capsys.readouterr()
    written = out.read_text(encoding="utf-8")
    lines = written.split("\n")
    source = files["test"].read_text(encoding="utf-8").split("\n")
    assert len(lines) == len(source) and lines[-1] == ""  # one line per input line, newline ended
    assert all(a.replace("  ", "") == b for a, b in zip(lines, source, strict=True))
    assert lines[5] == "" and all("   " not in line for line in lines)  # words joined by sep only
    assert invoke(argv) == 0  # stdout: the same bytes, nothing else
    assert capsys.readouterr().out == written


def test_official_scorer_agrees_with_eval(files, sighan_scorer, capsys):
    out = files["root"] / "seg.txt"
    assert invoke(["segment", str(files["run"]), "--file", str(files["test"]), "--sep", "  ",
                   "--seq-len", "32", "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    assert invoke(["eval", str(files["run"]), "--gold-seg", str(files["gold"]), "--dict",
                   str(files["words"]), "--seq-len", "32", "--json",
                   "--out", str(files["root"] / "eval")]) == 0  # fmt: skip
    metrics = json.loads(capsys.readouterr().out)
    gold_lf = files["root"] / "gold_lf.txt"  # the script wants LF line ends (SOURCE.txt)
    gold_lf.write_bytes(files["gold"].read_bytes().replace(b"\r", b""))
    score = subprocess.run(
        ["perl", str(sighan_scorer), str(files["words"]), str(gold_lf), str(out)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    official = parse_score_output(score)
    assert metrics["gold_words"] == official["gold_words"]
    assert metrics["predicted_words"] == official["predicted_words"]
    for key in ("word_precision", "word_recall", "word_f1", "oov_rate", "oov_recall", "iv_recall"):
        assert metrics[key] == pytest.approx(official[key], abs=0.005), key


def test_cli_defaults_are_the_library_defaults():
    from bitbench.seg_decode import DecodeOptions
    from bitlab.commands.segment import SegmenterFlags

    flags, options = SegmenterFlags(), DecodeOptions()
    assert flags.decode_options() == options
    assert flags.args() == []  # nothing non-default to print in a reproduce line
