"""One error path for user mistakes.

Anything the user can fix (a missing file, a bad config key, a corrupt store) is raised as
``UserError`` here or as the package's own error class (``bittrain.errors`` lists them). ``bitlab.main.run`` turns those into one
line on stderr and exit code 2; everything else is an internal error (exit 1), with the
traceback only under ``--debug``.
"""

from __future__ import annotations

from bittrain.errors import user_error_types as package_error_types

try:  # typer >= 0.22 vendors Click as ``typer._click`` (the ``click`` distribution is not used)
    from typer._click.exceptions import ClickException
except ImportError:  # typer that still uses the click distribution
    from click.exceptions import ClickException  # type: ignore[no-redef]


class UserError(Exception):
    """A mistake the user can fix. The message names the thing and says how to fix it."""


def user_error_types() -> tuple[type[BaseException], ...]:
    return (UserError, *package_error_types())


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
