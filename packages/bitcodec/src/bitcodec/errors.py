"""Errors of bitcodec that its caller can fix (bad input, bad configuration).

Messages speak in bitcodec's own terms: a setting is named as the Python parameter it is
(``resume=True``, ``field='body'``, ``binary='skip'``), never as a command-line flag. A front
end (the ``bitlab`` CLI) reads ``problem`` and ``fix`` and phrases the fix in its own terms.
"""

from __future__ import annotations

from typing import Any


class BitcodecError(ValueError):
    """A mistake in what was passed to bitcodec. The message names the thing and how to fix it.

    ``problem`` says what is wrong, ``fix`` how to mend it (may be empty); ``str(error)`` is
    ``"problem: fix"``. Settings in ``fix`` are written ``name=value`` as Python parameters.
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}: {fix}" if fix else problem)

    def __reduce__(self) -> tuple[Any, ...]:  # errors travel back from reader processes
        return (type(self), (self.problem, self.fix))


class MissingExtraError(BitcodecError):
    """An input needs an optional dependency that is not installed (``extra``: its pip extra)."""

    def __init__(self, problem: str, fix: str = "", extra: str = "") -> None:
        self.extra = extra
        super().__init__(problem, fix)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problem, self.fix, self.extra))


class BinaryInputError(BitcodecError):
    """An input that looks binary, refused under ``binary='error'`` (``path``, ``size``)."""

    def __init__(self, problem: str, fix: str = "", path: str = "", size: int = 0) -> None:
        self.path = path
        self.size = size
        super().__init__(problem, fix)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problem, self.fix, self.path, self.size))
