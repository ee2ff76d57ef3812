"""Question answering (``bitlab qa``): SQuAD-format data, the by-article split, the official
SQuAD and CMRC metrics, heuristic floors, byte windows, span encoders for every model kind, and
the three modes (probe, fine-tune, cloze). The pipeline is :func:`bitbench.qa.run.run_qa`.

This package module imports nothing itself: EvalModel classes import
:mod:`bitbench.qa.encoders` for their ``span_encoder`` method, so loading it stays cheap and
free of import cycles.
"""
