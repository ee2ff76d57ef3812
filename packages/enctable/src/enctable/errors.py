"""Errors of enctable that its caller can fix (bad input, bad configuration)."""


class EnctableError(ValueError):
    """A mistake in what was passed to enctable. The message names the thing and how to fix it."""
