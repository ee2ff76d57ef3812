"""Where a training step's time goes, stage by stage, forward and backward.

A profiled step carries torch.profiler ranges: the bench's own around the data, the task's
``loss`` and the optimizer; ranges the code names itself (``bitswin.routing``, ``bitswin.loss``,
``bittrain.units_pass``); and, while the profile runs, one range per model stage added by
forward hooks (``stage_modules``), removed afterwards, so the model computes exactly what it
computes untimed. Each op's own time goes to the innermost named range around it (the
no-grad units pass wins over the stages it runs). Backward ops run outside every forward range:
an op of the backward pass goes to the stage of the forward op that made its autograd node
(matched by the node's sequence number), so "byte encoder" is its forward plus its backward.
On CUDA the split is of device (kernel) time, on CPU of the op's own CPU time.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from bitbaselines.layers import EncoderBlock
from bitswin.hierarchy import ROUTING_RANGE
from bitswin.model import LOSS_RANGE
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from bittrain.engine.modules import unwrap
from bittrain.engine.unit_scores import UNITS_RANGE
from bittrain.tasks.baseline_scoring import LOSS_RANGE as BASELINE_LOSS_RANGE

PREFIX = "bench:"  # ranges the bench opens itself: PREFIX + stage name
DATA, TASK, OPTIMIZER = "data", "masks, inputs and task glue", "optimizer (clip, AdamW)"
UNITS = "units pass (no grad)"
MODEL_GLUE = "model glue (views, unit metrics)"
BACKWARD_OTHER = "backward, other (gradient accumulation)"
OTHER = "other (outside the named ranges)"
# Ranges the code names itself -> the stage they count to.
CODE_RANGES = {
    ROUTING_RANGE: "routing and pooling",
    LOSS_RANGE: "loss",
    BASELINE_LOSS_RANGE: "loss",
    UNITS_RANGE: UNITS,
}
_BACKWARD = "autograd::engine::evaluate_function"


def bitswin_stages(model: nn.Module) -> dict[str, list[nn.Module]]:
    """The issue's stages of a BitSwinModel: bit stage (with the byte embeddings), byte encoder
    (and decoder), routing and pooling (routers, pools, upsampling; the rest of routing is the
    code's own ``bitswin.routing`` range), word/phrase stages, heads."""
    h = model.hierarchy
    embeddings = [m for m in (model.positions, model.codes, model.embed_drop) if m is not None]
    return {
        MODEL_GLUE: [model],
        "bit stage": [model.bits, *embeddings],
        "byte encoder": [h.encoders[0], *h.decoders[:1]],
        "routing and pooling": [*h.routers, *h.pools, *h.ups],
        "word/phrase stages": [*h.encoders[1:], *h.decoders[1:]],
        "heads": [model.final_norm, model.heads, model.bit_head],
    }


def token_stages(model: nn.Module) -> dict[str, list[nn.Module]]:
    """A token-level masked LM (byte, BPE, Hugging Face BERT). With bitbaselines' encoder
    blocks: the projections, the feed-forward and the norms apart, and what is left of a block
    (attention proper: rotary, the local band, softmax; the residual adds) as "attention"; any
    other model is one stage."""
    blocks = [m for m in model.modules() if isinstance(m, EncoderBlock)]
    if not blocks:
        return {"model (embedding, blocks, head)": [model]}
    return {
        "embedding, head and glue": [model],
        "attention (rotary, band, softmax)": blocks,
        "qkv and output projections": [m for b in blocks for m in (b.qkv, b.proj)],
        "feed-forward": [b.ffn for b in blocks],
        "layer norms": [m for b in blocks for m in (b.norm_attn, b.norm_ffn)],
    }


def stage_modules(kind: str, model: nn.Module) -> dict[str, list[nn.Module]]:
    plain = unwrap(model)
    return bitswin_stages(plain) if kind == "bitswin" else token_stages(plain)


@contextlib.contextmanager
def stage_ranges(stages: dict[str, list[nn.Module]]) -> Iterator[None]:
    """A profiler range named PREFIX + stage around every forward of the stages' modules, while
    inside the block."""
    handles = []
    open_ranges: dict[int, list[Any]] = defaultdict(list)

    def hooks(name: str) -> tuple[Any, Any]:
        def pre(module: nn.Module, args: Any) -> None:
            entered = record_function(PREFIX + name)
            entered.__enter__()
            open_ranges[id(module)].append(entered)

        def post(module: nn.Module, args: Any, output: Any) -> None:
            open_ranges[id(module)].pop().__exit__(None, None, None)

        return pre, post

    try:
        for name, modules in stages.items():
            pre, post = hooks(name)
            for module in modules:
                handles.append(module.register_forward_pre_hook(pre))
                handles.append(module.register_forward_hook(post))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def bench_range(name: str) -> Iterator[None]:
    with record_function(PREFIX + name):
        yield


@dataclass(frozen=True)
class StageSplit:
    """Per stage, microseconds per step (forward, backward), over the profiled steps."""

    forward_us: dict[str, float]
    backward_us: dict[str, float]

    @property
    def total_us(self) -> dict[str, float]:
        names = set(self.forward_us) | set(self.backward_us)
        both = {n: self.forward_us.get(n, 0.0) + self.backward_us.get(n, 0.0) for n in names}
        return dict(sorted(both.items(), key=lambda kv: -kv[1]))

    @property
    def step_us(self) -> float:
        return sum(self.forward_us.values()) + sum(self.backward_us.values())


def _label(name: str) -> str | None:
    if name.startswith(PREFIX):
        return name[len(PREFIX) :]
    return CODE_RANGES.get(name)


def _forward_stage(event: Any) -> str | None:
    """The stage of a forward event: the innermost named range around it (units pass first)."""
    labels = []
    node = event
    while node is not None:
        label = _label(node.name)
        if label is not None:
            labels.append(label)
        node = node.cpu_parent
    if UNITS in labels:
        return UNITS
    return labels[0] if labels else None


def split_by_stage(events: list[Any], steps: int, device_time: bool) -> StageSplit:
    """Attribute every op's own time in ``events`` (``profile.events()`` of ``steps`` steps)."""
    own = "self_device_time_total" if device_time else "self_cpu_time_total"
    made_in: dict[tuple[int, int], str] = {}  # (forward thread, sequence nr) -> stage
    for event in events:
        if event.sequence_nr >= 0 and not event.name.startswith(_BACKWARD):
            stage = _forward_stage(event)
            if stage is not None:
                made_in.setdefault((event.thread, event.sequence_nr), stage)
    forward: dict[str, float] = defaultdict(float)
    backward: dict[str, float] = defaultdict(float)
    for event in events:
        spent = float(getattr(event, own))
        if spent <= 0:
            continue
        node, stage, is_backward = event, None, False
        while node is not None:  # the innermost named range, or the backward node's stage
            label = _label(node.name)
            if node.name.startswith(_BACKWARD):
                key = (getattr(node, "fwd_thread", node.thread), node.sequence_nr)
                stage, is_backward = made_in.get(key, BACKWARD_OTHER), True
                break
            if label is not None:
                stage = _forward_stage(node)
                break
            node = node.cpu_parent
        (backward if is_backward else forward)[stage or OTHER] += spent / steps
    return StageSplit(dict(forward), dict(backward))


def profile_stages(
    step_fn: Any, kind: str, model: nn.Module, steps: int, *, model_stages: bool = True
) -> StageSplit:
    """Run ``step_fn()`` ``steps`` times under torch.profiler with the stage ranges on.
    ``model_stages=False`` (a torch.compile'd model: hooks would break its graph) keeps only
    the bench's ranges: the model's time then counts to the task's stage."""
    cuda = torch.cuda.is_available() and next(unwrap(model).parameters()).is_cuda
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    stages = stage_modules(kind, model) if model_stages else {}
    with stage_ranges(stages), profile(activities=activities) as prof:
        for _ in range(steps):
            step_fn()
    return split_by_stage(list(prof.events()), steps, device_time=cuda)
