"""bitlab.progress: where stderr is no terminal (here: pytest's capture), long work prints plain
lines, at each new stage and on a timer within a stage; short work prints nothing."""

from __future__ import annotations

import time

import pytest
from bitlab import progress


def test_stages_and_a_long_stage_show_plain_lines(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(progress, "QUIET_S", 0.0)
    with progress.ProgressBar(every_s=0.01) as bar:
        assert bar.plain
        task = bar.add_task("job: loading", total=3)
        bar.update(task, description="job: working")
        bar.advance(task)
        seen = ""
        deadline = time.monotonic() + 10.0  # a bound on the wait, not a timing assertion
        while seen.count("job: working, 1/3") < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
            seen += capsys.readouterr().err
    captured = capsys.readouterr()
    lines = (seen + captured.err).splitlines()
    assert lines[0].startswith("bitlab: job: loading, 0/3, 0:00:0")
    assert lines[1].startswith("bitlab: job: working, 0/3, 0:00:0")
    assert sum(line.startswith("bitlab: job: working, 1/3, ") for line in lines) >= 3  # the timer
    assert captured.out == ""  # stdout is for results only


def test_short_work_prints_nothing(capsys) -> None:
    with progress.progress_bar() as bar:
        task = bar.add_task("quick", total=2)
        bar.update(task, description="quick: second", completed=1)
        bar.advance(task)
    assert capsys.readouterr() == ("", "")
