"""Evaluation protocols as training and evaluation share them: which bytes of a window are
hidden (:mod:`.spans`), how a model's bits on them are summed (:mod:`.scores`), and how a BPE's
tokens lie on the bytes (:mod:`.token_layout`)."""
