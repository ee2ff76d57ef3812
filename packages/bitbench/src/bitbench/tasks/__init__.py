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


register_task(
    TaskKind(
        name="bitswin",
        build=BitSwinTask,
        model_types=("bitswin",),
        load_eval=load_bitswin_eval,
        description="the bit-level model with the masking curriculum",
        check=check_bitswin_spec,
    )
)
register_task(
    TaskKind(
        name="byte",
        build=build_baseline_task,
        model_types=("byte_mlm",),
        load_eval=_load_baseline,
        description="byte-level window-attention masked LM (baseline)",
        check=check_baseline_spec,
    )
)
register_task(
    TaskKind(
        name="bpe",
        build=build_baseline_task,
        model_types=("bpe_mlm",),
        load_eval=_load_baseline,
        description="BERT-style masked LM over byte-level BPE tokens (baseline)",
        check=check_baseline_spec,
    )
)

register_task(
    TaskKind(
        name="hf-bert",
        build=build_baseline_task,
        model_types=(),
        load_eval=_load_baseline,
        description="Hugging Face BertForMaskedLM at the bpe size on the reference BPE (bitbench[hf])",
        check=check_baseline_spec,
        matches=lambda info: is_hf_masked_lm(info.model_config, info.model_dir),
    )
)

__all__ = ["BitSwinTask"]
