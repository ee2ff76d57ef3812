"""Errors of bitswin that its caller can fix (bad input, bad configuration)."""


class BitswinError(ValueError):
    """A mistake in what was passed to bitswin. The message names the thing and how to fix it."""
