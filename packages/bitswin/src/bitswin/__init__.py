"""BitSwin: a hierarchical shifted-window transformer over bits with multi-task heads."""

__version__ = "0.1.0"
