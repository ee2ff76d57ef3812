"""Usage errors are the user's, not ours: the usage line, Click's did-you-mean hint, exit 2.
"internal error ... please report it" stays for real bugs. Shell completion is on, and the
measuring commands default to --device auto."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer
from bitlab.main import app, invoke


@pytest.mark.parametrize(
    ("argv", "usage", "message"),
    [
        (["trian"], "Usage: bitlab [OPTIONS] COMMAND", "No such command 'trian'. Did you mean 'train'?"),
        (["eval", "RUN", "--no-such-option"], "Usage: bitlab eval [OPTIONS]", "No such option: --no-such-option"),
        (["eval", "RUN", "--devic", "cpu"], "Usage: bitlab eval", "Possible options: --decoder, --device"),
        (["train", "--max-steps", "abc"], "Usage: bitlab train [OPTIONS]", "Invalid value for '--max-steps'"),
        (["table", "inspekt"], "Usage: bitlab table [OPTIONS] COMMAND", "Did you mean 'inspect'?"),
        (["eval"], "Usage: bitlab eval [OPTIONS]", "Missing argument"),
    ],
)  # fmt: skip
def test_usage_errors_show_usage_and_hint_and_exit_2(argv, usage, message, capsys) -> None:
    assert invoke(argv) == 2
    captured = capsys.readouterr()
    assert usage in captured.err
    assert "-h' for help." in captured.err
    assert message in captured.err
    assert "internal error" not in captured.err and "please report" not in captured.err
    assert captured.out == ""


def test_a_real_bug_is_still_an_internal_error(monkeypatch, capsys) -> None:
    import bitlab.commands.codec as codec

    def broken(data: bytes) -> list[str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(codec, "_bit_groups", broken)
    assert invoke(["codec", "encode", "hi"]) == 1
    err = capsys.readouterr().err
    assert "bitlab: internal error: RuntimeError: boom" in err and "please report it" in err


def test_the_console_script_exits_2_on_a_typo() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bitlab", "trian"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "Did you mean 'train'?" in result.stderr


def test_shell_completion_is_on() -> None:
    script = subprocess.run(
        [sys.executable, "-m", "bitlab", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=120,
        # the shell is named, not detected from the parent processes (a test run under make,
        # nohup or CI may have no shell among them): Typer's own switch for that
        env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
    )
    assert script.returncode == 0 and "_BITLAB_COMPLETE" in script.stdout
    env = {**os.environ, "_BITLAB_COMPLETE": "complete_bash", "COMP_WORDS": "bitlab tr",
           "COMP_CWORD": "1"}  # fmt: skip
    words = subprocess.run(
        [sys.executable, "-m", "bitlab"], capture_output=True, text=True, env=env, timeout=120
    )
    assert words.returncode == 0 and words.stdout.split() == ["train"]
    help_text = subprocess.run(
        [sys.executable, "-m", "bitlab", "--help"], capture_output=True, text=True, timeout=120
    ).stdout
    assert "--install-completion" in help_text and "--log-level" in help_text


def _option_default(command: list[str], name: str):
    cmd = typer.main.get_command(app)
    for word in command:
        cmd = cmd.commands[word]
    return next(p.default for p in cmd.params if name in p.opts)


@pytest.mark.parametrize("command", [["eval"], ["probe"], ["segment"], ["compare"]])
def test_measuring_commands_default_to_device_auto(command) -> None:
    assert _option_default(command, "--device") == "auto"


def test_device_auto_resolves_to_what_the_machine_has(monkeypatch) -> None:
    import torch
    from bittrain.runs import resolve_device

    assert resolve_device("cpu") == "cpu" and resolve_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
