"""Evaluation suite for bit-level models: metrics, token-level baselines, probes, ablations, reports."""

__version__ = "0.1.0"
