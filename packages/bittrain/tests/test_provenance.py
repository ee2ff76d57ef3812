"""bittrain.provenance and bittrain.logs on their own: git state, env.json history, train.log."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from bittrain import logs
from bittrain.provenance import environment, git_state, write_env

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@needs_git
def test_git_state_of_a_checkout_clean_and_dirty(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    code = tmp_path / "pkg" / "mod.py"
    code.parent.mkdir()
    code.write_text("x = 1\n")
    _git(tmp_path, "add", "pkg/mod.py")
    _git(tmp_path, "commit", "-q", "-m", "one")
    state = git_state(code)
    assert state is not None
    assert state["commit"] == _git(tmp_path, "rev-parse", "HEAD") and state["dirty"] is False
    code.write_text("x = 2\n")
    assert git_state(code)["dirty"] is True


@needs_git
def test_untracked_code_inside_a_checkout_is_not_that_checkouts_code(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    installed = tmp_path / "venv" / "site-packages" / "bitlab" / "__init__.py"
    installed.parent.mkdir(parents=True)
    installed.write_text("")
    assert git_state(installed) is None
    outside = tmp_path.parent / f"{tmp_path.name}-nogit" / "m.py"
    outside.parent.mkdir()
    outside.write_text("")
    assert git_state(outside) is None


def test_env_json_keeps_earlier_sessions(tmp_path: Path) -> None:
    first = environment(argv=["bitlab", "train", "--out", "r"], world_size=2)
    write_env(tmp_path, first)
    second = environment(argv=["bitlab", "train", "--out", "r", "--resume"], resume_from="ckpt")
    write_env(tmp_path, second)
    third = environment(argv=["bitlab", "train", "--resume"], resume_from="ckpt2")
    data = json.loads(write_env(tmp_path, third).read_text())
    assert data["resume_from"] == "ckpt2"
    assert [p["command"] for p in data["previous"]] == [
        "bitlab train --out r",
        "bitlab train --out r --resume",
    ]
    assert all("previous" not in p for p in data["previous"])
    assert data["packages"]["bitlab"]["bitlab-cli"] is not None
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_argv_defaults_to_the_recorded_bitlab_command(monkeypatch) -> None:
    monkeypatch.setenv("BITLAB_COMMAND_ARGV", json.dumps(["train", "--out", "my run"]))
    env = environment()
    assert env["argv"] == ["bitlab", "train", "--out", "my run"]
    assert env["command"] == "bitlab train --out 'my run'"


def test_run_file_appends_keeps_file_only_records_off_the_console(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.delenv(logs.LEVEL_ENV, raising=False)  # restored after the test
    path = tmp_path / "train.log"
    path.write_text("an earlier session\n")
    logs.configure("info")
    run_file = logs.RunFile(path, rank=0)
    log = logging.getLogger("bitlab.test_run_file")
    log.info("shown and filed")
    log.info("filed only", extra={logs.FILE_ONLY: True})
    log.debug("neither")
    run_file.close()
    run_file.close()  # idempotent
    log.info("after close")
    logs.remove_console()
    text = path.read_text()
    assert text.startswith("an earlier session\n")
    assert "[rank 0] bitlab.test_run_file: shown and filed" in text
    assert "filed only" in text and "neither" not in text and "after close" not in text
    err = capsys.readouterr().err
    assert "shown and filed" in err and "filed only" not in err


def test_a_quiet_console_still_files_info(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv(logs.LEVEL_ENV, raising=False)
    logs.configure("error")
    run_file = logs.RunFile(tmp_path / "train.log")
    logging.getLogger("bitswin.checkpoint").info("interpolating a table")
    run_file.close()
    logs.remove_console()
    assert "interpolating a table" in (tmp_path / "train.log").read_text()
    assert "interpolating" not in capsys.readouterr().err


def test_other_ranks_show_only_problems(monkeypatch, capsys) -> None:
    monkeypatch.delenv(logs.LEVEL_ENV, raising=False)
    monkeypatch.setenv("RANK", "1")
    logs.configure("info")
    log = logging.getLogger("bitlab.test_rank")
    log.info("rank 1 info")
    log.warning("rank 1 warning")
    logs.remove_console()
    err = capsys.readouterr().err
    assert "rank 1 warning" in err and "rank 1 info" not in err
