"""Fixtures shared by every test directory of the workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent


def shared_data_dir() -> Path | None:
    """../shared/data beside the checkout (or $BITLAB_SHARED_DATA), if present."""
    env = os.environ.get("BITLAB_SHARED_DATA")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    """The real public datasets; tests that need them skip cleanly where they are absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is not present")
    return path
