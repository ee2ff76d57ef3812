"""Errors of bitbaselines that its caller can fix (a bad model config, a damaged model folder)."""


class BitbaselinesError(ValueError):
    """A mistake in what was passed to bitbaselines. The message names the thing and the fix."""
