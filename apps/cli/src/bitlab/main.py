"""The `bitlab` command. This module only wires command groups; each lives in bitlab.commands.

Command modules must stay cheap to import (heavy packages are imported inside the commands), so
that `bitlab --help` answers at once.

Exit codes: 0 ok; 2 a mistake the user can fix: a usage error (unknown command or option, a
value of the wrong type: Click's usage line, its did-you-mean hint, exit 2) or a package's
error class (one line); 1 an internal error (a bug: "please report it"); 130 interrupted.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer
from bittrain.command_line import ARGV_ENV, record_argv
from bittrain.logs import LEVEL_ENV, configure, remove_console

from bitlab import __version__
from bitlab.commands import HELP_OPTIONS, wire_all
from bitlab.errors import is_user_error, usage_error_type

app = typer.Typer(
    name="bitlab",
    help="Tokenizer-free language modelling at the bit level.",
    context_settings=HELP_OPTIONS,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, pwsh)
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
    log_level: str = typer.Option(
        None,
        "--log-level",
        help="Log records shown on stderr: debug, info (default), warning, error "
        "(also $BITLAB_LOG_LEVEL). Training runs log to RUN/train.log as well.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Tokenizer-free language modelling at the bit level."""
    if debug:
        state.debug = True
    configure(log_level)


wire_all(app)


def invoke(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 internal error, 2 user mistake)."""
    if argv is None:
        argv = sys.argv[1:]
    state.debug = state.debug or "--debug" in argv
    # This invocation's command line (for RUN/env.json) and log level, in the environment so
    # that spawned training workers inherit them; restored afterwards (nested invocations).
    saved_env = {name: os.environ.get(name) for name in (ARGV_ENV, LEVEL_ENV)}
    record_argv(argv)
    try:
        result = app(args=argv, prog_name="bitlab", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except usage_error_type() as exc:
        # Click's usage errors (typer vendors Click): the usage line, "Try 'bitlab X -h' for
        # help.", and the message with Click's did-you-mean hint. No args: the help (exit 2).
        exc.show()
        return int(getattr(exc, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
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
    finally:
        remove_console()  # the console handler lives as long as one command
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run() -> None:
    """Console-script entry point."""
    sys.exit(invoke())
