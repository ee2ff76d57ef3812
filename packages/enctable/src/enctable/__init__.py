"""Adaptive multi-level encoding table grown from a model's unit boundaries; lossless encode/decode."""

__version__ = "0.1.0"
