"""Token-level baselines: a byte-level window-attention masked LM and a BERT-style BPE masked LM.

Both train through the same trainer as bitswin (``bitlab train`` with task ``byte`` / ``bpe``,
via :func:`make_baseline_task`) and are measured through the same EvalModel interface
(:func:`load_baseline`), so bpb, probes and FLOPs sit in one table.
"""

from bitbench.baselines.bpe_mlm import BpeMLM, bpe_mlm_flops_per_byte
from bitbench.baselines.byte_mlm import ByteMLM, byte_mlm_flops_per_byte
from bitbench.baselines.config import BpeMLMConfig, ByteMLMConfig
from bitbench.baselines.loading import BpeEvalModel, ByteEvalModel, load_baseline
from bitbench.baselines.tasks import BpeTask, ByteTask, TaskLoss, make_baseline_task
from bitbench.baselines.tokenizer import encode_windows, load_tokenizer, train_reference_bpe

MODEL_TYPES = {"byte_mlm": "byte", "bpe_mlm": "bpe", "bert": "hf-bert"}

__all__ = [
    "MODEL_TYPES",
    "BpeEvalModel",
    "BpeMLM",
    "BpeMLMConfig",
    "BpeTask",
    "ByteEvalModel",
    "ByteMLM",
    "ByteMLMConfig",
    "ByteTask",
    "TaskLoss",
    "bpe_mlm_flops_per_byte",
    "byte_mlm_flops_per_byte",
    "encode_windows",
    "load_baseline",
    "load_tokenizer",
    "make_baseline_task",
    "train_reference_bpe",
]
