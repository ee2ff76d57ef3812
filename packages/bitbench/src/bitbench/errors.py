"""Errors of bitbench that its caller can fix (bad input, bad configuration)."""


class BitbenchError(ValueError):
    """A mistake in what was passed to bitbench. The message names the thing and how to fix it."""
