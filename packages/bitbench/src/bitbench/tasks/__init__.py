"""The built-in task kinds, registered with :mod:`bitbench.engine.registry` on import.

| kind | model | model_type | TrainTask | EvalModel |
|---|---|---|---|---|
| bitswin | bit-level hierarchical model (bitswin) | bitswin | tasks.bitswin_task | bitswin_eval |
| byte | byte-level window-attention MLM | byte_mlm | baselines.tasks | baselines.loading |
| bpe | BERT-style BPE-token MLM | bpe_mlm | baselines.tasks | baselines.loading |
| hf-bert | Hugging Face BertForMaskedLM (any local AutoModelForMaskedLM dir loads too) | bert | baselines.tasks | baselines.hf_bert |
"""

from __future__ import annotations

from typing import Any

from bitbench.baselines.loading import load_baseline
from bitbench.baselines.tasks import build_baseline_task, check_baseline_spec
from bitbench.bitswin_eval import load_bitswin_eval
from bitbench.engine.protocols import EvalModel
from bitbench.engine.registry import TaskKind, register_task
from bitbench.rundir import is_hf_masked_lm
from bitbench.tasks.bitswin_setup import check_spec as check_bitswin_spec
from bitbench.tasks.bitswin_task import BitSwinTask


def _load_baseline(info: Any, device: str) -> EvalModel:
    return load_baseline(info.model_dir, device=device)


def _is_hf_directory(info: Any) -> bool:
    return is_hf_masked_lm(info.model_config, info.model_dir)


BUILTIN_KINDS = (
    TaskKind("bitswin", BitSwinTask, ("bitswin",), load_bitswin_eval,
             "the bit-level model with the masking curriculum", check=check_bitswin_spec),
    TaskKind("byte", build_baseline_task, ("byte_mlm",), _load_baseline,
             "byte-level window-attention masked LM (baseline)", check=check_baseline_spec),
    TaskKind("bpe", build_baseline_task, ("bpe_mlm",), _load_baseline,
             "BERT-style masked LM over byte-level BPE tokens (baseline)",
             check=check_baseline_spec),
    # any local Hugging Face AutoModelForMaskedLM directory loads through this kind too
    TaskKind("hf-bert", build_baseline_task, (), _load_baseline,
             "Hugging Face BertForMaskedLM at the bpe size on the reference BPE (bitbench[hf])",
             check=check_baseline_spec, matches=_is_hf_directory),
)  # fmt: skip
for _kind in BUILTIN_KINDS:
    register_task(_kind)

__all__ = ["BUILTIN_KINDS", "BitSwinTask"]
