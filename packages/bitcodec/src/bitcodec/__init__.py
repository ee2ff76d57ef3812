"""Bit-level codec for UTF-8 text (Numba kernels), per-byte UTF-8 facts, and a Zarr v3 corpus store."""

__version__ = "0.1.0"
