"""Two rules of the handbook for every source module of the packages and the CLI (tests and
conftest are not sources):

- Imports stand at the top of the module, where a reader sees what the file depends on. The only
  exceptions: the CLI's command modules (``apps/cli/src/bitlab/commands/*``), which import their
  heavy packages inside the commands so that ``bitlab --help`` answers at once, and the optional
  extras in ``OPTIONAL_EXTRAS``, imported where they are used so that a missing one is one clear
  error naming the extra instead of a failed import of the whole package.
- No source module is longer than ``MAX_LINES`` lines.

Only import statements count (the AST, at any depth inside a function or class body); the plugin
discovery of bitbench's task registry and bitlab.errors' on-failure lookup of each package's
error class load modules by name (``importlib.import_module``) on purpose.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = (*sorted((ROOT / "packages").glob("*/src")), *sorted((ROOT / "apps").glob("*/src")))
LAZY_ALLOWED = ROOT / "apps/cli/src/bitlab/commands"  # start-up time of `bitlab --help`
MAX_LINES = 450

# Imported module name (the module and everything below it) -> (the pyproject that declares the
# extra, the extra's name, the distribution it installs). test_optional_extras_are_declared keeps
# this list honest: a module whose distribution is a plain dependency is imported at the top.
OPTIONAL_EXTRAS = {
    # Parquet / Arrow / Hugging Face save_to_disk inputs of prepare-corpus (bitcodec.arrow_inputs)
    "pyarrow": ("packages/bitcodec/pyproject.toml", "arrow", "pyarrow"),
    # the hf-bert baseline and local Hugging Face masked LMs (bitbaselines.hf_bert)
    "transformers": ("packages/bitbaselines/pyproject.toml", "hf", "transformers"),
    # `bitlab train --tensorboard` (bittrain.trainer.metrics_log): torch's writer needs tensorboard
    "torch.utils.tensorboard": ("packages/bittrain/pyproject.toml", "tensorboard", "tensorboard"),
}


def source_files() -> list[Path]:
    return sorted(p for root in SOURCE_ROOTS for p in root.rglob("*.py"))


def _imported_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return ["." * node.level + (node.module or "")]


def is_optional_extra(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in OPTIONAL_EXTRAS)


def nested_imports(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, imported module) of every import statement inside a function or class body that
    is not of an optional extra."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)) and nested:
                found.extend(
                    (child.lineno, name)
                    for name in _imported_names(child)
                    if not is_optional_extra(name)
                )
            inner = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            visit(child, nested or inner)

    visit(ast.parse(source, filename=filename), False)
    return found


def line_count(source: str) -> int:
    return len(source.splitlines())


def test_the_sources_are_found() -> None:
    files = source_files()
    assert len(files) > 100, files
    assert any(LAZY_ALLOWED in p.parents for p in files)  # the exception is not vacuous
    assert not [p for p in files if "tests" in p.relative_to(ROOT).parts]


def test_imports_stand_at_the_top() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line}: import of {module} inside a function or class"
        for path in source_files()
        if LAZY_ALLOWED not in path.parents
        for line, module in nested_imports(path.read_text(encoding="utf-8"), str(path))
    ]
    assert not bad, (
        "imports belong at the top of the module (lazy only in bitlab/commands/*; an optional "
        "extra goes into OPTIONAL_EXTRAS with its pyproject extra):\n" + "\n".join(bad)
    )


@pytest.mark.parametrize("module", sorted(OPTIONAL_EXTRAS))
def test_optional_extras_are_declared(module: str) -> None:
    pyproject, extra, distribution = OPTIONAL_EXTRAS[module]
    project = tomllib.loads((ROOT / pyproject).read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    assert extra in extras, f"{pyproject} has no extra {extra!r} (extras: {sorted(extras)})"
    assert distribution in {Requirement(r).name for r in extras[extra]}, (module, extras[extra])
    assert distribution not in {Requirement(r).name for r in project.get("dependencies", [])}, (
        f"{distribution} is a dependency of {pyproject}, not optional: import {module} at the top"
    )


def test_no_source_module_is_too_long() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for path in source_files()
        if (n := line_count(path.read_text(encoding="utf-8"))) > MAX_LINES
    ]
    assert not long, f"modules over {MAX_LINES} lines (split them by concept):\n" + "\n".join(long)


def test_the_checkers_can_fail() -> None:
    lazy = (
        "import os\n"
        "def f():\n"
        "    import numpy as np\n"
        "    from bitcodec.facts import char_classes\n"
        "    import pyarrow.parquet\n"  # an optional extra: allowed
        "    from transformers import AutoModel\n"  # likewise
        "class C:\n"
        "    def g(self):\n"
        "        async def h():\n"
        "            from . import sibling\n"
        "from torch.utils import tensorboard\n"  # top level: fine
    )
    assert nested_imports(lazy) == [(3, "numpy"), (4, "bitcodec.facts"), (10, ".")]
    assert nested_imports("import torch\nfrom typing import Any\n") == []
    assert not is_optional_extra("pyarrowish")
    assert is_optional_extra("torch.utils.tensorboard.writer")
    assert not is_optional_extra("torch.utils")
    assert line_count("a\n" * MAX_LINES) == MAX_LINES
    assert line_count("a\n" * (MAX_LINES + 1)) > MAX_LINES
