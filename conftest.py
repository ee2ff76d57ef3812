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


# No test may reach the network: the Hugging Face Hub client is offline everywhere (in this
# process and in the subprocesses tests start), and its cache is the test session's own.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(autouse=True)
def _hub_offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    try:
        from huggingface_hub import constants
    except ImportError:  # a package tested on its own, without the Hub client
        return
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cache = tmp_path_factory.getbasetemp() / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Reference BPEs and other caches go to a per-session folder, never to ~/.cache."""
    old = os.environ.get("BITLAB_CACHE")
    os.environ["BITLAB_CACHE"] = str(tmp_path_factory.mktemp("bitlab-cache"))
    yield
    if old is None:
        os.environ.pop("BITLAB_CACHE", None)
    else:
        os.environ["BITLAB_CACHE"] = old
