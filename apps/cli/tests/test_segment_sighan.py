"""`bitlab segment --sep '  '` writes the file the official SIGHAN scorer reads, and `bitlab segment
--gold` scores it exactly as `bitlab eval --gold-seg --dict` does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bitbench.sighan import read_segmented_lines, read_word_list, score_lines
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


def test_segment_gold_scores_agree_with_eval_and_the_written_file(files, capsys):
    out = files["root"] / "seg.txt"
    assert invoke(["segment", str(files["run"]), "--file", str(files["test"]), "--sep", "  ",
                   "--seq-len", "32", "--out", str(out), "--gold", str(files["gold"]),
                   "--dict", str(files["words"]), "--json"]) == 0  # fmt: skip
    scores = json.loads(capsys.readouterr().out)["scores"]
    assert invoke(["eval", str(files["run"]), "--gold-seg", str(files["gold"]), "--dict",
                   str(files["words"]), "--seq-len", "32", "--json",
                   "--out", str(files["root"] / "eval")]) == 0  # fmt: skip
    metrics = json.loads(capsys.readouterr().out)
    for key, value in scores.items():  # one segmenter and one scorer behind both commands
        assert metrics[key] == pytest.approx(value), key
    # the written file, read back as the official script reads it, scores the same
    again = score_lines(
        read_segmented_lines(files["gold"]),
        read_segmented_lines(out),
        read_word_list(files["words"]),
    )
    assert again.as_dict() == pytest.approx(scores)


def test_cli_defaults_are_the_library_defaults():
    from bitbench.seg_decode import DecodeOptions
    from bitlab.commands.segment import SegmenterFlags

    flags, options = SegmenterFlags(), DecodeOptions()
    assert flags.decode_options() == options
    assert flags.args() == []  # nothing non-default to print in a reproduce line
