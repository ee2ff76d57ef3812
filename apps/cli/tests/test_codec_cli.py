"""`bitlab codec encode/decode`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bitlab.main import invoke

BITLAB = Path(sys.executable).with_name("bitlab")


def test_encode_prints_bits_grouped_by_byte_with_chars(capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(["codec", "encode", "Hi世"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "01001000 01101001 11100100 10111000 10010110"
    assert "'世' U+4E16" in out and "LEAD3" in out and "CONT" in out


def test_encode_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(["codec", "encode", "--json", "é🎉"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["text"] == "é🎉"
    assert result["bytes"] == list("é🎉".encode())
    assert result["bits"] == "".join(f"{b:08b}" for b in "é🎉".encode())
    assert [c["codepoint"] for c in result["chars"]] == ["U+00E9", "U+1F389"]
    assert [c["byte_offset"] for c in result["chars"]] == [0, 2]


def test_decode_accepts_groups_and_separators(capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(["codec", "decode", "01001000 0110_1001", "11100100101110001001_0110"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "Hi世\n"
    assert captured.err == ""


def test_decode_round_trips_encode_json(capsys: pytest.CaptureFixture[str]) -> None:
    text = "Ünïcödé ✓ 😀 中文"
    assert invoke(["codec", "encode", "--json", text]) == 0
    bits = json.loads(capsys.readouterr().out)["bits"]
    assert invoke(["codec", "decode", "--json", bits]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {
        "text": text,
        "bytes": list(text.encode()),
        "valid_utf8": True,
        "first_invalid_byte": None,
    }


def test_decode_invalid_utf8_shows_replacement_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert invoke(["codec", "decode", "01000001 11100100"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "A\ufffd\n"
    assert "not valid UTF-8" in captured.err and "offset 1" in captured.err
    assert invoke(["codec", "decode", "--json", "01000001 11111111"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["valid_utf8"] is False and result["first_invalid_byte"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["codec", "decode", "0100100"], "7 bits, not a multiple of 8"),
        (["codec", "decode", "01001000 2"], "'2' at character 9"),
        (["codec", "decode", "__ __"], "BITS is empty"),
        (
            ["codec", "decode", "--strict", "01000001 11100100"],
            "not valid UTF-8: unexpected end of data at byte offset 1",
        ),
        (["codec", "encode", "a\udfffb"], "lone surrogate U+DFFF at character 1"),
    ],
)
def test_user_mistakes_are_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_real_process_stdin_and_invalid_bytes() -> None:
    proc = subprocess.run(
        [str(BITLAB), "codec", "encode", "--json", "-"],
        input=b"a\xe4\xb8",
        capture_output=True,
        check=True,
    )
    result = json.loads(proc.stdout)
    assert result["bytes"] == [0x61, 0xE4, 0xB8]
    assert [c["char"] for c in result["chars"]] == ["a", None, None]
    proc = subprocess.run([str(BITLAB), "codec", "decode", "--strict", "1"], capture_output=True)
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("bitlab: error: BITS has 1 bit,")
