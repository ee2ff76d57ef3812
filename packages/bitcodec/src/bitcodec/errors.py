"""Errors of bitcodec that its caller can fix (bad input, bad configuration)."""


class BitcodecError(ValueError):
    """A mistake in what was passed to bitcodec. The message names the thing and how to fix it."""
