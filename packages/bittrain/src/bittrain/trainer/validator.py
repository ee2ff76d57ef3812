"""Validation with its cadence: on the fixed validation windows every ``eval_every`` steps and at
the end, under the run's precision, two kinds of numbers:

- the evaluation protocols (``eval_protocols``: words, tokens, bytes; bittrain.hidden.spans), one
  pass each, on hidden spans chosen once from the text (the same for every model kind with the
  same validation windows): ``bpb_<protocol>`` plus ``hidden_digest_<protocol>``, so curves of
  different kinds are comparable (``bitlab compare``);
- the task's own ``validate`` metrics (``bpb`` under its own mask, ``acc_<level>``).

DDP and single-process runs validate on rank 0 with the unwrapped module and broadcast the
result; FSDP2 runs validate on every rank with all the windows (each rank must take part in the
sharded forward), so the metrics are exactly those of one process.
"""

from __future__ import annotations

from typing import Any

import torch

from bittrain.engine import TrainTask, autocast, eval_mode, unwrap
from bittrain.hidden.scores import protocol_scores, supports
from bittrain.hidden.spans import HiddenSpans, resolve_protocols, select_spans
from bittrain.reference_bpe import reference_bpe
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.data import eval_windows
from bittrain.trainer.dist import DistContext


class Validator:
    def __init__(
        self,
        task: TrainTask,
        config: TrainConfig,
        ctx: DistContext,
        corpus: Any,
        fsdp: bool,
    ) -> None:
        self.task = task
        self.every = config.eval_every
        self.precision = config.precision
        self.seed = config.eval_seed
        self.ctx = ctx
        self.fsdp = fsdp
        w, d = eval_windows(corpus.val, config.eval_windows, config.seq_len, config.eval_seed)
        self.windows_np, self.doc_starts_np = w, d  # uint8 / bool [N, L]
        self.windows = torch.from_numpy(w).to(ctx.device)
        self.doc_starts = torch.from_numpy(d).to(ctx.device)
        protocols = resolve_protocols(config.eval_protocols) if config.eval_protocols else ()
        self.spans = self._spans(protocols, corpus) if protocols else {}

    def _spans(self, protocols: tuple[str, ...], corpus: Any) -> dict[str, HiddenSpans]:
        """Each protocol's hidden spans of the validation windows, chosen once."""
        needs_reference = any(p != "bytes" for p in protocols)
        reference = reference_bpe(corpus.train) if needs_reference else None
        return {
            p: select_spans(
                p, self.windows_np, self.doc_starts_np, seed=self.seed, reference=reference
            )
            for p in protocols
        }

    def should_validate(self, step: int, *, last: bool) -> bool:
        return last or (self.every > 0 and step % self.every == 0)

    def validate(self, model: torch.nn.Module) -> dict[str, Any]:
        if self.fsdp:
            return self._metrics(model)
        result = self._metrics(unwrap(model)) if self.ctx.is_main else None
        return self.ctx.broadcast_object(result)

    def _metrics(self, model: torch.nn.Module) -> dict[str, Any]:
        with eval_mode(unwrap(model)), autocast(self.ctx.device, self.precision):
            metrics: dict[str, Any] = dict(self.task.validate(model, self.windows, self.doc_starts))
            if self.spans:
                view = self.task.eval_view(model)
                usable = [p for p in self.spans if supports(view, p)]
                scores = protocol_scores(
                    view,
                    self.windows_np,
                    self.doc_starts_np,
                    usable,
                    seed=self.seed,
                    chain=False,
                    spans=self.spans,
                )
                metrics.update(scores)
                metrics.update({f"hidden_digest_{p}": self.spans[p].digest for p in usable})
        return metrics
