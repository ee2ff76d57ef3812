"""Each package is independently versioned and builds a wheel on its own; bitcodec and enctable
install without torch (checked on the installed dependency closure, offline)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "bitcodec": ROOT / "packages/bitcodec",
    "bitmask": ROOT / "packages/bitmask",
    "bitswin": ROOT / "packages/bitswin",
    "enctable": ROOT / "packages/enctable",
    "bitbench": ROOT / "packages/bitbench",
    "bitlab": ROOT / "apps/cli",
}


def _closure(dist: str) -> set[str]:
    """Names of every distribution `dist` needs, following installed metadata (no extras)."""
    seen: set[str] = set()
    todo = [dist]
    while todo:
        name = re.split(r"[<>=!~;\[ ]", todo.pop(), maxsplit=1)[0].strip().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for req in metadata.requires(name) or []:
            if "extra ==" in req:
                continue
            todo.append(req)
    return seen


@pytest.mark.parametrize("package", ["bitcodec", "enctable"])
def test_installs_without_torch(package: str) -> None:
    closure = _closure(package)
    assert package in closure
    assert "torch" not in closure, f"{package} pulls torch through: {sorted(closure)}"


def test_closure_sees_torch_where_it_is() -> None:
    assert "torch" in _closure("bitmask")


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_metadata(package: str) -> None:
    path = PACKAGES[package]
    project = tomllib.loads((path / "pyproject.toml").read_text())["project"]
    assert project["name"] == package
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    init = (path / "src" / package / "__init__.py").read_text()
    assert f'__version__ = "{project["version"]}"' in init, "pyproject and __version__ differ"
    for name in ("README.md", "CHANGELOG.md"):
        assert (path / name).is_file(), f"{package} has no {name}"
    assert "```" in (path / "README.md").read_text(), f"{package} README has no example"


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_builds_a_wheel_on_its_own(package: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(PACKAGES[package]),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    wheels = list(tmp_path.glob(f"{package}-*.whl"))
    assert len(wheels) == 1
