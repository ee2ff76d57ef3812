"""The layout in docs/architecture.md is the architecture: packages depend only downward.

Scans every import statement (module level and inside functions) of each package's sources and
checks it against the allowed direction:

    bittokens <- bitcodec <- (bitmask, bitswin, enctable) <- bitbaselines <- bittrain
              <- bitbench <- bitlab (the CLI)

bitswin reaches only bittokens (no numba, no zarr); bitbaselines (the token-level models) only
bitswin's Hub mixin below it; a model never imports the training engine. bittokens, bitcodec and
enctable never import torch. Inside bittrain, the engine (contracts, registry, the model-input
path) sits below the tasks and the loop, and the loop reaches the task kinds only through the
registry.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    "bittokens": ROOT / "packages/bittokens/src/bittokens",
    "bitcodec": ROOT / "packages/bitcodec/src/bitcodec",
    "bitmask": ROOT / "packages/bitmask/src/bitmask",
    "bitswin": ROOT / "packages/bitswin/src/bitswin",
    "enctable": ROOT / "packages/enctable/src/enctable",
    "bitbaselines": ROOT / "packages/bitbaselines/src/bitbaselines",
    "bittrain": ROOT / "packages/bittrain/src/bittrain",
    "bitbench": ROOT / "packages/bitbench/src/bitbench",
    "bitlab": ROOT / "apps/cli/src/bitlab",
}
OURS = set(SOURCES)
MODELS = {"bittokens", "bitcodec", "bitmask", "bitswin", "enctable", "bitbaselines"}
ALLOWED = {
    "bittokens": set(),
    "bitcodec": {"bittokens"},
    "bitmask": {"bittokens", "bitcodec"},
    "bitswin": {"bittokens"},  # the bit-position ids only: no numba, no zarr
    "enctable": {"bittokens"},  # the shared default unit length (DEFAULT_UNIT_BYTES)
    "bitbaselines": {"bitswin"},  # the Hub mixin and atomic writes of model folders
    "bittrain": MODELS,
    "bitbench": MODELS | {"bittrain"},
    "bitlab": MODELS | {"bittrain", "bitbench"},
}
NO_TORCH = ("bittokens", "bitcodec", "enctable")


def _imports(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in sorted(SOURCES[package].rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.extend((path, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((path, node.module))
    return found


def _allowed(package: str, module: str) -> bool:
    top = module.split(".")[0]
    if top not in OURS or top == package:
        return True
    return top in ALLOWED[package]


@pytest.mark.parametrize("package", sorted(SOURCES))
def test_imports_point_down(package: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, module in _imports(package)
        if not _allowed(package, module)
    ]
    assert not bad, "imports against the dependency direction:\n" + "\n".join(bad)


@pytest.mark.parametrize("package", NO_TORCH)
def test_no_torch_in_sources(package: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, module in _imports(package)
        if module.split(".")[0] == "torch"
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", NO_TORCH)
def test_import_does_not_load_torch(package: str) -> None:
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({package!r})\n"
        "sys.exit(3 if 'torch' in sys.modules else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"import {package} loaded torch: {result.stderr[-500:]}"


def test_the_cli_start_up_does_not_load_torch() -> None:
    """`bitlab --help` answers at once: the CLI's main module (and what it imports of bittrain:
    logging setup, the recorded command line, the error classes) loads no torch."""
    code = "import sys, bitlab.main\nsys.exit(3 if 'torch' in sys.modules else 0)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"bitlab.main loaded torch: {result.stderr[-500:]}"


def test_checker_catches_an_upward_import() -> None:
    # The checker itself must be able to fail.
    assert not _allowed("bitcodec", "bitswin.model")
    assert not _allowed("bitswin", "bitmask")
    assert not _allowed("bitswin", "bitcodec.tokens")  # bitcodec/__init__ would pull numba
    assert not _allowed("bittokens", "bitcodec")
    assert not _allowed("bitbaselines", "bittrain.engine.modules")  # a model never sees the engine
    assert not _allowed("bittrain", "bitbench.boundaries")
    assert not _allowed("bitbench", "bitlab.errors")
    assert _allowed("bitswin", "bittokens")
    assert _allowed("bitbench", "bittrain.runs")


def _within(package: str, folder: str) -> list[tuple[Path, str]]:
    root = SOURCES[package] / folder
    return [(p, m) for p, m in _imports(package) if root in p.parents]


def test_the_engine_imports_nothing_above_it() -> None:
    """bittrain.engine (contracts, registry, model inputs, unit scores) is the floor of bittrain:
    the tasks, the protocols and the loop call it, never the reverse."""
    imports = _within("bittrain", "engine")
    assert any(m.startswith("bittrain.engine") for _, m in imports)  # it scans
    allowed = ("bittrain.engine", "bittrain.errors", "bittrain.fileio")
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, module in imports
        if module.startswith("bittrain") and not module.startswith(allowed)
    ]
    assert not bad, "bittrain.engine must stay below the rest of bittrain:\n" + "\n".join(bad)


def test_the_trainer_knows_tasks_only_through_the_registry() -> None:
    imports = _within("bittrain", "trainer")
    assert imports  # it scans
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, module in imports
        if module.startswith(("bittrain.tasks", "bitbaselines", "bitswin", "bitmask"))
    ]
    assert not bad, "the training loop must not name a task kind:\n" + "\n".join(bad)
