"""Errors of bittrain that its caller can fix, and which exceptions count as such.

Anything the user can fix (a missing file, a bad config key, a corrupt store) is raised as the
package's own error class (each package defines one in its ``errors`` module, all subclasses of
``ValueError``). ``is_user_error`` tells those apart from bugs: a training worker reports them as
one line (no traceback), and the ``bitlab`` command prints them with exit code 2.
"""

from __future__ import annotations

import importlib


class BittrainError(ValueError):
    """A mistake in what was passed to bittrain. The message names the thing and how to fix it."""


# Each package's base class for mistakes its caller can fix. Looked up by name, only on failure,
# so that importing this module costs nothing (bitbench sits above bittrain).
PACKAGE_ERRORS = (
    ("bitcodec.errors", "BitcodecError"),
    ("bitmask.errors", "BitmaskError"),
    ("bitswin.errors", "BitswinError"),
    ("enctable.errors", "EnctableError"),
    ("bitbaselines.errors", "BitbaselinesError"),
    ("bittrain.errors", "BittrainError"),
    ("bitbench.errors", "BitbenchError"),
)


def user_error_types() -> tuple[type[BaseException], ...]:
    """The error classes of the packages that are installed."""
    types: list[type[BaseException]] = []
    for module_name, class_name in PACKAGE_ERRORS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        types.append(getattr(module, class_name))
    return tuple(types)


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, user_error_types())
