"""The built-in task kinds, registered with :mod:`bittrain.engine.registry` on import.

| kind | model | model_type | TrainTask | EvalModel |
|---|---|---|---|---|
| bitswin | bit-level hierarchical model (bitswin) | bitswin | tasks.bitswin_task | bitswin_eval |
| byte | byte-level window-attention MLM | byte_mlm | baselines.tasks | baselines.loading |
| bpe | BERT-style BPE-token MLM | bpe_mlm | baselines.tasks | baselines.loading |
| hf-bert | Hugging Face BertForMaskedLM (any local AutoModelForMaskedLM dir loads too) | bert | baselines.tasks | baselines.hf_bert |
"""

from __future__ import annotations

from typing import Any

from bittrain.engine.contracts import EvalModel
from bittrain.engine.registry import TaskKind, register_task
from bittrain.rundir import is_hf_masked_lm
from bittrain.tasks.baseline_eval import load_baseline
from bittrain.tasks.baseline_task import build_baseline_task, check_baseline_spec
from bittrain.tasks.bitswin_config import BitSwinTaskOptions
from bittrain.tasks.bitswin_config import check_spec as check_bitswin_spec
from bittrain.tasks.bitswin_eval import load_bitswin_eval
from bittrain.tasks.bitswin_task import BitSwinTask


def _load_baseline(info: Any, device: str) -> EvalModel:
    return load_baseline(info.model_dir, device=device)


def _is_hf_directory(info: Any) -> bool:
    return is_hf_masked_lm(info.model_config, info.model_dir)


BUILTIN_KINDS = (
    TaskKind("bitswin", BitSwinTask, ("bitswin",), load_bitswin_eval,
             "the bit-level model with the masking curriculum", check=check_bitswin_spec,
             options=BitSwinTaskOptions),
    TaskKind("byte", build_baseline_task, ("byte_mlm",), _load_baseline,
             "byte-level window-attention masked LM (baseline)", check=check_baseline_spec),
    TaskKind("bpe", build_baseline_task, ("bpe_mlm",), _load_baseline,
             "BERT-style masked LM over byte-level BPE tokens (baseline)",
             check=check_baseline_spec),
    # any local Hugging Face AutoModelForMaskedLM directory loads through this kind too
    TaskKind("hf-bert", build_baseline_task, (), _load_baseline,
             "Hugging Face BertForMaskedLM at the bpe size on the reference BPE (bitbaselines[hf])",
             check=check_baseline_spec, matches=_is_hf_directory),
)  # fmt: skip
for _kind in BUILTIN_KINDS:
    register_task(_kind)

__all__ = ["BUILTIN_KINDS", "BitSwinTask"]
