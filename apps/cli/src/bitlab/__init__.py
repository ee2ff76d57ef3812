"""bitlab: the command line that composes bitcodec, bitmask, bitswin, enctable and bitbench."""

__version__ = "0.1.0"
