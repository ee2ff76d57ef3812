"""`bitlab masks show`: renders English and Chinese text with every level named."""

from __future__ import annotations

import json

import pytest
from bitlab.main import invoke


@pytest.mark.parametrize(
    "text", ["The quick brown fox jumps over the lazy dog.", "机器学习让模型自己发现语言的单位。"]
)
def test_show_renders_levels_bits_and_characters(capsys, text):
    code = invoke(["masks", "show", "--text", text, "--epoch", "40", "--seed", "2"])
    out = capsys.readouterr().out
    assert code == 0
    for level in ("bit", "byte", "word", "phrase"):
        assert level in out
    assert "phase 4" in out and "_" in out  # hidden bits are drawn as '_'
    assert text.split()[0][:1] in out  # the characters are shown above their bytes
    assert f"{text.encode()[0]:02x}" in out


def test_show_class_boundaries_split_chinese_characters(capsys):
    text = "你好世界"
    assert invoke(["masks", "show", "--text", text, "--epoch", "0", "--json"]) == 0
    whitespace = json.loads(capsys.readouterr().out)
    assert (
        invoke(["masks", "show", "--text", text, "--epoch", "0", "--boundaries", "class", "--json"])
        == 0
    )
    by_class = json.loads(capsys.readouterr().out)
    assert sum(whitespace["unit_start"]) == 1  # no spaces: one unit
    assert sum(by_class["unit_start"]) == 4  # each CJK character is a unit
    assert by_class["phase"] == 1 and by_class["rates"]["byte"] == 0.0
    assert not any(by_class["masks"]["byte"]) and len(by_class["input_ids"]) == 12


def test_show_json_with_compressed_steps(capsys):
    args = ["masks", "show", "--text", "hello world", "--step", "90", "--total-steps", "100"]
    assert invoke([*args, "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["phase"] == 4 and view["total_steps"] == 100
    assert len(view["input_ids"]) == len("hello world") and len(view["input_ids"][0]) == 8
    hidden = sum(ident == 2 for row in view["input_ids"] for ident in row)
    assert hidden == view["hidden_bits"]
    # same seed, same masks
    assert invoke([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == view


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text", "", "--epoch", "3"], "--text is empty"),
        (["--text", "hi"], "--epoch"),
        (["--text", "hi", "--step", "3"], "--total-steps"),
        (["--text", "hi", "--total-steps", "10"], "--step"),
        (["--text", "hi", "--epoch", "3", "--boundaries", "spaces"], "--boundaries"),
    ],
)
def test_show_user_mistakes_exit_2(capsys, args, message):
    assert invoke(["masks", "show", *args]) == 2
    assert message in capsys.readouterr().err
