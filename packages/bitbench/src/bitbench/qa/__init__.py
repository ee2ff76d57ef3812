"""Question answering (``bitlab qa``): SQuAD-format data, the by-article split, the official
SQuAD and CMRC metrics, heuristic floors, byte windows, span encoders for every model kind, and
the three modes (probe, fine-tune, cloze). The pipeline is :func:`bitbench.qa.run.run_qa`.

What QA needs of a model is ``bittrain.tasks.span_encoders.HasSpanEncoder``: each EvalModel
returns a span encoder (units in, one hidden state per unit out, with gradients) for its own
module; everything question-specific is here.
"""
