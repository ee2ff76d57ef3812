"""One error path for user mistakes.

Anything the user can fix (a missing file, a bad config key, a corrupt store) is raised as
``UserError`` here or as the package's own error class (each package defines one in its
``errors`` module, all subclasses of ``ValueError``). ``bitlab.main.run`` turns those into one
line on stderr and exit code 2; everything else is an internal error (exit 1), with the
traceback only under ``--debug``.
"""

from __future__ import annotations

import importlib

try:  # typer >= 0.22 vendors Click as ``typer._click`` (the ``click`` distribution is not used)
    from typer._click.exceptions import ClickException
except ImportError:  # typer that still uses the click distribution
    from click.exceptions import ClickException  # type: ignore[no-redef]

# Each package's base class for mistakes its caller can fix. Imported lazily, only on failure,
# so that `bitlab --help` does not pay for numba or torch.
_PACKAGE_ERRORS = (
    ("bitcodec.errors", "BitcodecError"),
    ("bitmask.errors", "BitmaskError"),
    ("bitswin.errors", "BitswinError"),
    ("enctable.errors", "EnctableError"),
    ("bitbench.errors", "BitbenchError"),
)


class UserError(Exception):
    """A mistake the user can fix. The message names the thing and says how to fix it."""


def user_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [UserError]
    for module_name, class_name in _PACKAGE_ERRORS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        types.append(getattr(module, class_name))
    return tuple(types)


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, user_error_types())


def usage_error_type() -> type[Exception]:
    """The base class of command-line usage errors (unknown command or option, bad value).

    typer >= 0.22 vendors Click as ``typer._click``; older typer raises
    ``click.ClickException`` (the import at the top picks the one there is).
    tests/…/test_usage_errors.py pins the behaviour, so a typer upgrade that moves the class
    fails there, not in front of users.
    """
    return ClickException


def in_flag_terms(exc: BaseException, flags: dict[str, str]) -> BaseException:
    """A library's user error re-worded for the command line: a message that begins with a
    config key that has its own flag names the flag (``table_codes 'x' ...`` becomes
    ``--table (table_codes) 'x' ...``). Other errors come back unchanged."""
    if not is_user_error(exc):
        return exc
    message = str(exc)
    for key, flag in flags.items():
        if message.startswith(f"{key} ") or message.startswith(f"{key}:"):
            return UserError(f"{flag} ({key}){message[len(key) :]}")
    return exc
