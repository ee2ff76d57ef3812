"""Each package is independently versioned and builds a wheel on its own; bitcodec and enctable
install without torch, bitswin without numba or zarr (checked on the installed dependency
closure, and in a fresh virtual environment, offline). Every package names the repository's one
license, ships py.typed, and carries classifiers and project URLs. Every package installs as its
README says: the README's install line names exactly its local dependency closure (bitlab's
packages are not on PyPI yet), and that line, run offline in a fresh environment, installs
bitcodec without torch and bittrain well enough to run its README's 20-step training."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
# distribution name -> (project folder, import name), in dependency order (as install lines list them)
PACKAGES = {
    "bittokens": (ROOT / "packages/bittokens", "bittokens"),
    "bitcodec": (ROOT / "packages/bitcodec", "bitcodec"),
    "bitmask": (ROOT / "packages/bitmask", "bitmask"),
    "bitswin": (ROOT / "packages/bitswin", "bitswin"),
    "enctable": (ROOT / "packages/enctable", "enctable"),
    "bitbaselines": (ROOT / "packages/bitbaselines", "bitbaselines"),
    "bittrain": (ROOT / "packages/bittrain", "bittrain"),
    "bitbench": (ROOT / "packages/bitbench", "bitbench"),
    # `bitlab` on PyPI is an unrelated project: the CLI is distributed as bitlab-cli and its
    # command and import name stay `bitlab`.
    "bitlab-cli": (ROOT / "apps/cli", "bitlab"),
}
REPOSITORY = "https://github.com/bitlab-lm/bitlab"
PIP_INTO = [sys.executable, "-m", "pip", "--python"]  # pip of this env, installing into another
NUMBA_OR_ZARR = {"numba", "llvmlite", "zarr", "numcodecs", "bitcodec"}


def _project(dist: str) -> dict:
    return tomllib.loads((PACKAGES[dist][0] / "pyproject.toml").read_text())["project"]


def _closure(dist: str) -> set[str]:
    """Names of every distribution `dist` needs on this platform, following installed metadata
    (no extras; environment markers evaluated)."""
    seen: set[str] = set()
    todo = [dist]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for raw in metadata.requires(name) or []:
            req = Requirement(raw)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(req.name)
    return seen


@pytest.mark.parametrize("package", ["bittokens", "bitcodec", "enctable"])
def test_installs_without_torch(package: str) -> None:
    closure = _closure(package)
    assert package in closure
    assert "torch" not in closure, f"{package} pulls torch through: {sorted(closure)}"


def test_bittokens_has_no_dependencies() -> None:
    assert _project("bittokens")["dependencies"] == []
    assert _closure("bittokens") == {"bittokens"}


def test_bitswin_needs_neither_numba_nor_zarr() -> None:
    closure = _closure("bitswin")
    assert {"torch", "bittokens", "huggingface-hub"} <= closure
    assert not closure & NUMBA_OR_ZARR, f"bitswin pulls {sorted(closure & NUMBA_OR_ZARR)}"


def test_closure_sees_torch_where_it_is() -> None:
    assert "torch" in _closure("bitmask")
    assert "numba" in _closure("bitbench")  # through bitcodec: the check can fail


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_metadata(package: str) -> None:
    path, module = PACKAGES[package]
    project = _project(package)
    assert project["name"] == package
    version = project["version"]
    assert version.count(".") == 2 and all(p.isdigit() for p in version.split("."))
    # __version__ is set in __init__.py, or in version.py when the package's modules need it too
    declared = [path / "src" / module / name for name in ("__init__.py", "version.py")]
    text = "".join(p.read_text() for p in declared if p.is_file())
    assert f'__version__ = "{version}"' in text, "pyproject and __version__ differ"
    for name in ("README.md", "CHANGELOG.md"):
        assert (path / name).is_file(), f"{package} has no {name}"
    assert "```" in (path / "README.md").read_text(), f"{package} README has no example"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_license_typing_classifiers_and_urls(package: str) -> None:
    path, module = PACKAGES[package]
    project = _project(package)
    # One license for the repository, named (SPDX) in every package, its text shipped beside it.
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert (path / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
    assert (path / "src" / module / "py.typed").is_file(), f"{package} has no py.typed"
    classifiers = project["classifiers"]
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")], (
        "PEP 639: the license expression replaces License :: classifiers"
    )
    urls = project["urls"]
    assert urls["Repository"] == REPOSITORY
    relative = path.relative_to(ROOT).as_posix()
    assert urls["Changelog"].endswith(f"/{relative}/CHANGELOG.md")


def test_our_requirements_name_installable_distributions() -> None:
    """Every dependency on one of ours uses a distribution name of this repository."""
    ours = set(PACKAGES) | {"bitlab"}
    for package in PACKAGES:
        for raw in _project(package)["dependencies"]:
            name = Requirement(raw).name
            if name in ours:
                assert name in PACKAGES, f"{package} depends on {name!r}, not a dist of ours"


def _build_wheel(package: str, out: Path) -> Path:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(PACKAGES[package][0]),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    wheels = list(out.glob(f"{package.replace('-', '_')}-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_builds_a_wheel_on_its_own(package: str, tmp_path: Path) -> None:
    wheel = _build_wheel(package, tmp_path)
    module = PACKAGES[package][1]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert f"{module}/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "License-Expression: Apache-2.0" in meta
    assert f"Project-URL: Repository, {REPOSITORY}" in meta


def _link_distributions(names: set[str], target: Path) -> None:
    """Symlink the installed files of `names` (top-level packages, modules, dist-info) into
    `target`: a fresh environment then sees exactly those distributions and nothing else."""
    target.mkdir()
    for name in sorted(names):
        dist = metadata.distribution(name)
        site = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            if not (target / top).exists() and (site / top).exists():
                os.symlink(site / top, target / top)


@pytest.mark.slow
def test_bitswin_installs_and_runs_in_a_fresh_env_without_numba_or_zarr(tmp_path: Path) -> None:
    """pip install bittokens + bitswin (offline, from their wheels) into a new virtual env whose
    only other distributions are torch, safetensors, huggingface_hub and their own closure."""
    wheels = tmp_path / "wheels"
    for package in ("bittokens", "bitswin"):
        _build_wheel(package, wheels)
    env = tmp_path / "env"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    third_party = set().union(*(_closure(d) for d in ("torch", "safetensors", "huggingface-hub")))
    assert not third_party & NUMBA_OR_ZARR
    _link_distributions(third_party, tmp_path / "deps")
    site = next((env / "lib").glob("python3*/site-packages"))
    (site / "deps.pth").write_text(str(tmp_path / "deps") + "\n")
    offline = ["install", "-q", "--no-index", "--find-links", str(wheels)]
    install = subprocess.run(
        [*PIP_INTO, str(python), *offline, "bittokens", "bitswin"],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    code = """
import importlib.util, sys, torch
for name in ("numba", "zarr", "bitcodec", "llvmlite"):
    assert importlib.util.find_spec(name) is None, f"{name} is installed"
import bitswin
from bittokens import MASK_ID
model = bitswin.BitSwinModel(bitswin.BitSwinConfig.tiny())
ids = torch.randint(0, 2, (1, 8 * 24))
ids[0, :8] = MASK_ID
out = model(ids)
assert out.byte_logits.shape == (1, 24, 256)
print("ok", bitswin.__file__)
"""
    run = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, env={}
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("ok ") and str(env) in run.stdout


def _local_requirements(dist: str) -> set[str]:
    project = tomllib.loads((PACKAGES[dist][0] / "pyproject.toml").read_text())["project"]
    names = {Requirement(raw).name for raw in project["dependencies"]}
    return names & set(PACKAGES)


def _local_closure(dist: str) -> list[str]:
    """`dist` and every bitlab package it needs, in dependency order."""
    seen, todo = set(), [dist]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_local_requirements(name))
    return [name for name in PACKAGES if name in seen]


def install_line(dist: str) -> list[str]:
    """The folders of the `pip install` command in the README's "## Install" section."""
    text = (PACKAGES[dist][0] / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Install\n", 1)
    assert len(section) == 2, (
        f"{PACKAGES[dist][0].relative_to(ROOT)}/README.md has no '## Install' section"
    )
    block = re.search(r"```bash\n(.*?)```", section[1], re.S)
    assert block, (
        f"{PACKAGES[dist][0].relative_to(ROOT)}/README.md: no bash block under '## Install'"
    )
    command = block.group(1).split("#")[0].replace("\\\n", " ").split()
    assert command[:2] == ["pip", "install"], command
    return command[2:]


def readme_python_block(dist: str, heading: str | None) -> str:
    """The first python block under `heading` of the package's README (None: of the README)."""
    text = (PACKAGES[dist][0] / "README.md").read_text(encoding="utf-8")
    after = text if heading is None else text.split(f"\n{heading}\n", 1)[1]
    block = re.search(r"```python\n(.*?)```", after, re.S)
    assert block, f"no python block under {heading!r}"
    return block.group(1)


@pytest.mark.parametrize("dist", sorted(PACKAGES))
def test_install_line_is_the_local_dependency_closure(dist: str) -> None:
    expected = [f"./{PACKAGES[name][0].relative_to(ROOT)}" for name in _local_closure(dist)]
    assert install_line(dist) == expected


def test_closure_follows_the_requirements() -> None:
    # the reference the check above compares with can fail: bittrain needs the model packages
    assert _local_closure("bittokens") == ["bittokens"]
    assert _local_closure("bitswin") == ["bittokens", "bitswin"]
    assert {"bitbaselines", "bitmask", "bitcodec"} <= set(_local_closure("bittrain"))
    assert "bitbench" not in _local_closure("bittrain")


def _fresh_env(tmp_path: Path, dist: str) -> Path:
    """A new virtual environment that sees only the third-party distributions `dist` needs
    (and hatchling, to build the local folders), linked from this one; no bitlab package."""
    env = tmp_path / "env"
    venv.create(env, with_pip=False)
    third_party = (_closure(dist) | _closure("hatchling")) - set(PACKAGES)
    _link_distributions(third_party, tmp_path / "deps")
    site = next((env / "lib").glob("python3*/site-packages"))
    (site / "deps.pth").write_text(str(tmp_path / "deps") + "\n")
    return env / "bin" / "python"


def _pip_install_as_the_readme_says(python: Path, dist: str) -> None:
    offline = ["install", "-q", "--no-index", "--no-build-isolation"]
    result = subprocess.run(
        [*PIP_INTO, str(python), *offline, *install_line(dist)],
        capture_output=True,
        text=True,
        cwd=ROOT,  # the README's line is run from the repository root
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize(("dist", "heading"), [("bitcodec", "## Codec"), ("enctable", None)])
def test_installs_as_its_readme_says_without_torch(
    dist: str, heading: str | None, tmp_path: Path
) -> None:
    """The README's install line, then the README's first example under `heading`."""
    python = _fresh_env(tmp_path, dist)
    _pip_install_as_the_readme_says(python, dist)
    module = PACKAGES[dist][1]
    code = readme_python_block(dist, heading) + (
        "\nimport importlib.util\nassert importlib.util.find_spec('torch') is None\n"
        f"import {module}\nprint('ok', {module}.__file__)\n"
    )
    run = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, env={}
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines()[-1].startswith("ok ") and str(tmp_path / "env") in run.stdout


@pytest.mark.slow
def test_the_cli_installs_as_its_readme_says(tmp_path: Path) -> None:
    python = _fresh_env(tmp_path, "bitlab-cli")
    _pip_install_as_the_readme_says(python, "bitlab-cli")
    bitlab = python.parent / "bitlab"
    run = subprocess.run(
        [str(bitlab), "codec", "encode", "hé", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"BITLAB_CACHE": str(tmp_path / "cache")},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "01101000" in run.stdout  # "h"


@pytest.mark.slow
def test_bittrain_installs_as_its_readme_says_and_trains_20_steps(tmp_path: Path) -> None:
    python = _fresh_env(tmp_path, "bittrain")
    _pip_install_as_the_readme_says(python, "bittrain")
    code = readme_python_block("bittrain", "## Train from Python")
    env = {"BITLAB_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "2"}
    run = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    status, step, flops = run.stdout.split()[:3]
    assert (status, step) == ("ok", "20") and float(flops) > 0
    assert (tmp_path / "runs/py/model/model.safetensors").is_file()
    where = subprocess.run(
        [str(python), "-c", "import bittrain; print(bittrain.__file__)"],
        capture_output=True,
        text=True,
        env={},
    )
    assert str(tmp_path / "env") in where.stdout, "bittrain did not come from the fresh env"
