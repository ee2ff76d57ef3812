"""Built-in corpora that need no network and no files: ``pydocs``.

``pydocs`` is the prose already installed with Python: the docstrings of every module, class
and function of the standard library and of the packages in site-packages (read with ``ast``
from the source files; nothing is imported), plus bundled documentation files (.rst, .md,
.txt, and the package descriptions in ``*.dist-info/METADATA``). One document per module or
documentation file; test directories and hidden files are left out. The order is fixed:
standard library first, then each site-packages directory, paths sorted, so the same
environment always yields the same corpus (``max_bytes`` keeps a prefix of it).
"""

from __future__ import annotations

import ast
import os
import site
import sys
import sysconfig
import warnings
from pathlib import Path

from bitcodec.errors import BitcodecError
from bitcodec.sources import InputFile

BUILTIN_CORPORA = ("pydocs",)
_DOC_SUFFIXES = (".rst", ".md", ".txt")
_SKIP_DIRS = {
    "__pycache__",
    "test",
    "tests",
    "testing",
    "idle_test",
    "site-packages",
    "dist-packages",
}
_SKIP_NAMES = {
    "RECORD", "entry_points.txt", "top_level.txt", "dependency_links.txt", "namespace_packages.txt",
    "requires.txt", "SOURCES.txt", "not-zip-safe", "WHEEL", "INSTALLER", "REQUESTED",
}  # fmt: skip
_MIN_DOC_FILE_BYTES = 200  # smaller .txt/.md files are mostly lists, not prose
_DOC_NODES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def pydocs_roots() -> list[Path]:
    """The standard library, then every site-packages directory of this interpreter."""
    candidates = [sysconfig.get_paths()["stdlib"]]
    candidates += sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    if hasattr(site, "getsitepackages"):  # missing in old virtualenv's site module
        candidates += sorted(site.getsitepackages())
    candidates += sorted(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    roots: list[Path] = []
    seen: set[str] = set()
    for c in candidates:
        real = os.path.realpath(c)
        if real not in seen and os.path.isdir(real):
            seen.add(real)
            roots.append(Path(c))
    return roots


def _wanted(name: str) -> str | None:
    if name.startswith(".") or name in _SKIP_NAMES:
        return None
    if name.endswith(".py"):
        return "pydoc"
    if name.endswith(_DOC_SUFFIXES) or name == "METADATA":
        return "doctext"
    return None


def builtin_files(name: str) -> list[InputFile]:
    """The files of a built-in corpus, in its fixed order."""
    if name not in BUILTIN_CORPORA:
        raise BitcodecError(
            f"unknown built-in corpus '{name}': choose one of {', '.join(BUILTIN_CORPORA)}"
        )
    files: list[InputFile] = []
    seen: set[str] = set()
    for root in pydocs_roots():
        for dirpath, dirs, names in os.walk(root):
            # site-packages below the stdlib is walked as its own root, after the stdlib
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            for n in sorted(names):
                kind = _wanted(n)
                if kind is None:
                    continue
                path = os.path.join(dirpath, n)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                real = os.path.realpath(path)
                if real in seen or not os.access(path, os.R_OK):
                    continue
                if kind == "doctext" and st.st_size < _MIN_DOC_FILE_BYTES:
                    continue
                seen.add(real)
                files.append(InputFile(path, st.st_size, st.st_mtime_ns, kind))
    if not files:
        raise BitcodecError(
            "found no Python sources or documentation in this environment for the built-in "
            "corpus pydocs",
            "pass your own inputs instead",
        )
    return files


def module_docstrings(source: bytes, name: str = "<module>") -> bytes:
    """The docstrings of a module (module, classes, functions) in source order, one blank
    line apart, as UTF-8; empty when it has none or does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old sources
            tree = ast.parse(source, filename=name)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return b""
    nodes = [n for n in ast.walk(tree) if isinstance(n, _DOC_NODES)]
    nodes.sort(key=lambda n: getattr(n, "lineno", 0))  # the module (no lineno) first
    docs = [d for n in nodes if (d := ast.get_docstring(n, clean=True)) and d.strip()]
    return "\n\n".join(docs).encode("utf-8", "surrogatepass")
