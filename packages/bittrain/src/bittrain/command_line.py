"""The command line of the running `bitlab` invocation, kept in the environment so that spawned
training workers inherit it (RUN/env.json records it). Cheap to import (no torch): ``bitlab.main``
sets it before any command runs, ``bittrain.provenance`` reads it."""

from __future__ import annotations

import json
import os
import sys

ARGV_ENV = "BITLAB_COMMAND_ARGV"  # JSON list: the arguments of the running bitlab command


def record_argv(argv: list[str]) -> None:
    """Note ``argv`` (the arguments after ``bitlab``) as this invocation's command line."""
    os.environ[ARGV_ENV] = json.dumps(list(argv))


def recorded_argv() -> list[str]:
    """``["bitlab", *args]`` as the CLI recorded them (inherited by spawned workers), else
    sys.argv (e.g. ``python -m bitlab.train`` under torchrun, or a library caller)."""
    recorded = os.environ.get(ARGV_ENV)
    return ["bitlab", *json.loads(recorded)] if recorded else list(sys.argv)
