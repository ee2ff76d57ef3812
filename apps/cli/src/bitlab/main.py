"""The `bitlab` command. This module only wires command groups; each lives in bitlab.commands.

Command modules must stay cheap to import (heavy packages are imported inside the commands), so
that `bitlab --help` answers at once.
"""

from __future__ import annotations

import os
import sys
import traceback

import click
import typer

from bitlab import __version__
from bitlab.errors import is_user_error

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="bitlab",
    help="Tokenizer-free language modelling at the bit level.",
    context_settings=CONTEXT_SETTINGS,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


class _State:
    debug: bool = bool(os.environ.get("BITLAB_DEBUG"))


state = _State()


def _print_version(value: bool) -> None:
    if value:
        print(f"bitlab {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Tokenizer-free language modelling at the bit level."""
    if debug:
        state.debug = True


def _wire() -> None:
    from bitlab.commands import wire_all

    wire_all(app)


_wire()


def invoke(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 internal error, 2 user mistake)."""
    if argv is None:
        argv = sys.argv[1:]
    state.debug = state.debug or "--debug" in argv
    try:
        result = app(args=argv, prog_name="bitlab", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:  # usage errors: click's own one-line message, exit 2
        exc.show()
        return 2
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("bitlab: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if state.debug:
            traceback.print_exc()
        if is_user_error(exc):
            print(f"bitlab: error: {exc}", file=sys.stderr)
            return 2
        if not state.debug:
            print(
                f"bitlab: internal error: {type(exc).__name__}: {exc} "
                "(run again with --debug for the traceback, and please report it)",
                file=sys.stderr,
            )
        return 1
    return int(result) if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(invoke())
