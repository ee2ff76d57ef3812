"""The version of bitbaselines (written into saved models)."""

__version__ = "0.1.0"
