"""The layout in DESIGN.md is the architecture: packages depend only downward.

Scans every import statement (module level and inside functions) of each package's sources and
checks it against the allowed direction (bittokens <- bitcodec <- bitmask <- (bitswin, enctable) <-
bitbench <- bitlab; bitswin reaches only bittokens); bittokens, bitcodec and enctable must never
import torch.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"bittokens", "bitcodec", "bitmask", "bitswin", "enctable", "bitbench", "bitlab"}
SOURCES = {
    "bittokens": ROOT / "packages/bittokens/src/bittokens",
    "bitcodec": ROOT / "packages/bitcodec/src/bitcodec",
    "bitmask": ROOT / "packages/bitmask/src/bitmask",
    "bitswin": ROOT / "packages/bitswin/src/bitswin",
    "enctable": ROOT / "packages/enctable/src/enctable",
    "bitbench": ROOT / "packages/bitbench/src/bitbench",
    "bitlab": ROOT / "apps/cli/src/bitlab",
}
ALLOWED = {
    "bittokens": set(),
    "bitcodec": {"bittokens"},
    "bitmask": {"bittokens", "bitcodec"},
    "bitswin": {"bittokens"},  # the bit-position ids only: no numba, no zarr
    "enctable": set(),
    "bitbench": {"bittokens", "bitcodec", "bitmask", "bitswin", "enctable"},
    "bitlab": {"bittokens", "bitcodec", "bitmask", "bitswin", "enctable", "bitbench"},
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
    return any(module == a or module.startswith(a + ".") or a == top for a in ALLOWED[package])


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


def test_checker_catches_an_upward_import() -> None:
    # The checker itself must be able to fail.
    assert not _allowed("bitcodec", "bitswin.model")
    assert not _allowed("bitswin", "bitmask")
    assert not _allowed("bitswin", "bitcodec.tokens")  # bitcodec/__init__ would pull numba
    assert not _allowed("bittokens", "bitcodec")
    assert _allowed("bitswin", "bittokens")
    assert _allowed("bitbench", "bitswin")


# Inside bitbench: the engine (what drives a model, the contracts, the registry) sits below
# everything else of bitbench; bitbench's measurements and the trainer call it, never the
# reverse. The trainer (bitlab.training) reaches the task kinds only through the registry.
ENGINE = SOURCES["bitbench"] / "engine"
ENGINE_MAY_USE = ("bitbench.engine", "bitbench.errors", "bitbench.fileio")


def _engine_imports() -> list[tuple[Path, str]]:
    return [(p, m) for p, m in _imports("bitbench") if ENGINE in p.parents]


def test_the_engine_imports_nothing_above_it() -> None:
    assert any(m.startswith("bitbench.engine") for _, m in _engine_imports())  # it scans
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, module in _engine_imports()
        if module.startswith("bitbench") and not module.startswith(ENGINE_MAY_USE)
    ]
    assert not bad, "bitbench.engine must stay below the rest of bitbench:\n" + "\n".join(bad)


def test_the_trainer_knows_tasks_only_through_the_registry() -> None:
    training = SOURCES["bitlab"] / "training"
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, module in _imports("bitlab")
        if training in path.parents
        and module.startswith(("bitbench.tasks", "bitbench.baselines", "bitswin", "bitmask"))
    ]
    assert not bad, "the training loop must not name a task kind:\n" + "\n".join(bad)
