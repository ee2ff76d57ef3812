"""Evaluation suite for bit-level models: metrics, token-level baselines, probes, ablations, reports.

Modules (import what you need; this package imports nothing heavy on its own):
``metrics`` / ``compression`` / ``consistency`` / ``flops`` / ``bpe_reference`` (pure metrics),
``runs`` (run directories -> ``EvalModel``), ``bitswin_eval`` (the bitswin adapter),
``evaluate`` (``evaluate_run``, ``write_outputs``), ``compare``, ``segment``, ``fill``,
``report`` / ``plots``, and ``baselines`` (token-level baselines).
"""

__version__ = "0.1.0"
