"""Errors of bitmask that its caller can fix (bad input, bad configuration)."""


class BitmaskError(ValueError):
    """A mistake in what was passed to bitmask. The message names the thing and how to fix it."""
