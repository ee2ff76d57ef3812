"""The ``bitswin`` task: curriculum masks (bitmask) + the bit-level model (bitswin).

One step: word and phrase units for the masks (below), masks for the micro-batch from the
curriculum (``make_masks`` with the global sample ids: a pure function of (seed, sample, step)),
one forward of the masked batch with its targets, the model's weighted task losses.

Units of the word and phrase masks (``boundary_source``): ``model`` (the model's own unit-start
scores on the unmasked bytes, one extra no-grad forward) or ``entropy`` (the byte head's entropy,
two), both by :func:`bitbench.engine.boundary_scores`; the live model, or a frozen snapshot
refreshed every ``boundary_refresh_every`` steps (saved in checkpoints so resume stays exact).
Before the word phase no units are needed and the prior (``boundary_prior``) is used;
``whitespace`` / ``class`` use bitcodec's priors throughout (ablations).

Validation is DESIGN.md's: on fixed windows, ``bpb`` is the mean -log2 p(true byte) over the
bytes hidden by a fixed-seed 15% byte mask, and ``acc_<level>`` are accuracies under a fixed-seed
mask with every level at its full rate and whitespace units (the same for every run).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch
from bitmask import Curriculum, MaskedBatch, make_masks
from bitswin import BitSwinModel, estimate_flops_per_byte
from enctable import AdaptiveEncodingTable

from bitbench.bitswin_eval import BitSwinEval
from bitbench.engine.boundaries import boundary_scores, passes_of
from bitbench.engine.codes import TableCodes
from bitbench.engine.inputs import forward, model_inputs
from bitbench.engine.modules import unwrap
from bitbench.engine.protocols import TaskBase, TaskLoss, TaskSpec
from bitbench.fileio import load_tensors, read_json, save_tensors, write_json_atomic
from bitbench.tasks import bitswin_setup as setup

LN2 = math.log(2.0)
EVAL_BYTE_RATE = 0.15
EVAL_CHUNK = 32  # validation windows per forward
LEVELS = ("bit", "byte", "word", "phrase")
GRAD_PASS = 3.0  # a forward with backward costs about three forwards


class BitSwinTask(TaskBase):
    """TrainTask of the bit-level model (see the module docstring)."""

    kind = "bitswin"

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self.options = setup.BitSwinTaskOptions.from_settings(spec.settings)
        opts = self.options
        self.fed_table = setup.load_code_table(opts) if opts.table_codes else None
        self.codes = (
            TableCodes(self.fed_table, opts.table_code_level)
            if self.fed_table is not None
            else None
        )
        vocab = self.codes.vocab_size if self.codes is not None else 0
        self.model_config = setup.model_config(spec, vocab)
        self.corruption = setup.corruption_config(spec)
        self.steps_per_epoch = setup.steps_per_epoch(spec, opts)
        self.mask_config = setup.mask_config(spec, opts, spec.total_steps)
        self.curriculum = Curriculum(self.mask_config)
        torch.manual_seed(spec.seed)  # identical initial weights on every rank and rerun
        self.model: torch.nn.Module = BitSwinModel(self.model_config)
        self._snapshot: torch.nn.Module | None = None
        self._snapshot_step = -1
        # The table grown from the model's boundaries: the fed table itself when adaptive.
        self.table: AdaptiveEncodingTable | None = None
        if self.fed_table is not None and opts.table_mode == "adaptive":
            self.table = self.fed_table
        elif opts.table_enabled:
            self.table = AdaptiveEncodingTable(levels=4, max_size=opts.table_max_size)

    # -- curriculum ------------------------------------------------------------------------------

    def _when(self, step: int, curriculum: Curriculum | None = None) -> dict[str, float | int]:
        config = (curriculum or self.curriculum).config
        if config.unit == "step":
            return {"step": step}
        return {"epoch": step / self.steps_per_epoch}

    def _rates(self, step: int, curriculum: Curriculum | None = None) -> dict[str, float]:
        curriculum = curriculum or self.curriculum
        return dict(curriculum.at(**self._when(step, curriculum)).rates)

    def phase(self, step: int) -> int:
        return self.curriculum.at(**self._when(step)).phase

    def schedule_state(self, step: int) -> dict[str, Any]:
        return self.curriculum.at(**self._when(step)).to_dict()

    # -- FLOPs -----------------------------------------------------------------------------------

    def _forward_flops(self, n_windows: int) -> float:
        per_byte = estimate_flops_per_byte(self.model_config, self.spec.seq_len)
        return float(per_byte) * n_windows * self.spec.seq_len

    def _needs_units(self, rates: dict[str, float]) -> bool:
        model_based = self.options.boundary_source in ("model", "entropy")
        return model_based and (rates.get("word", 0.0) > 0 or rates.get("phrase", 0.0) > 0)

    def _table_due(self, step: int) -> bool:
        """Whether step ``step`` (0-based) feeds the encoding table (rank 0 only)."""
        return self.table is not None and (step + 1) % self.options.table_update_every == 0

    def _boundary_passes(self, step: int, rates: dict[str, float], is_main: bool) -> int:
        if self._needs_units(rates):
            return passes_of(self.options.boundary_source)
        if is_main and self._table_due(step):
            source = self.options.boundary_source
            return passes_of(source if source in ("model", "entropy") else "model")
        return 0

    def planned_flops(self, total_steps: int) -> float:
        curriculum = Curriculum(setup.mask_config(self.spec, self.options, total_steps))
        forward_cost = self._forward_flops(self.spec.batch_size)
        total = 0.0
        for step in range(total_steps):
            rates = self._rates(step, curriculum)
            passes = self._boundary_passes(step, rates, is_main=False)
            total += forward_cost * (GRAD_PASS + passes)
            if self._table_due(step) and not self._needs_units(rates):  # rank 0's micro-batch
                total += self._forward_flops(self.spec.batch_size) * self._boundary_passes(
                    step, rates, is_main=True
                )
        return total

    # -- boundaries ------------------------------------------------------------------------------

    def _boundary_model(self, model: torch.nn.Module, step: int) -> torch.nn.Module:
        live = unwrap(model)
        k = self.options.boundary_refresh_every
        if k <= 1:
            return live
        if self._snapshot is None or step // k != self._snapshot_step // k:
            if self._snapshot is None:
                self._snapshot = copy.deepcopy(live)
                self._snapshot.requires_grad_(False)
            self._snapshot.load_state_dict(live.state_dict())
            self._snapshot_step = step - step % k
        return self._snapshot

    def _scores(self, model, windows, doc_starts, step: int) -> torch.Tensor:
        source = self.options.boundary_source
        return boundary_scores(
            self._boundary_model(model, step),
            windows,
            doc_starts,
            source=source if source in ("model", "entropy") else "model",
            codes=self.codes,
        ).scores

    # -- TrainTask -------------------------------------------------------------------------------

    def loss(
        self,
        model: torch.nn.Module,
        windows: torch.Tensor,
        doc_starts: torch.Tensor,
        *,
        step: int,
        sample_index: torch.Tensor,
    ) -> TaskLoss:
        rates = self._rates(step)
        is_main = self.spec.is_main
        scores = None
        boundaries: str | torch.Tensor = self.options.boundary_source
        if self._needs_units(rates):
            scores = self._scores(model, windows, doc_starts, step)
            boundaries = scores
        elif boundaries not in ("whitespace", "class"):
            boundaries = self.options.boundary_prior  # bootstrap: no units before the word phase
        passes = self._boundary_passes(step, rates, is_main)
        if is_main and self._table_due(step):
            if scores is None:
                scores = self._scores(model, windows, doc_starts, step)
            assert self.table is not None
            self.table.update_tables(
                windows.cpu().numpy(), scores.float().cpu().numpy(), step=step + 1
            )
        masked = make_masks(
            windows,
            self.mask_config,
            **self._when(step),
            boundaries=boundaries,
            seed=self.spec.seed,
            sample_index=sample_index,
            corruption=self.corruption,
        )
        out = forward(model, model_inputs(masked.input_ids, doc_starts, self.codes), targets=masked)
        metrics: dict[str, float | torch.Tensor] = {f"loss_{k}": v for k, v in out.losses.items()}
        for key, value in out.metrics.items():
            if key.startswith("acc_") or key == "bpb_hidden":
                metrics[key] = value
        flops = self._forward_flops(windows.shape[0]) * (GRAD_PASS + passes)
        return TaskLoss(loss=out.loss, metrics=metrics, phase=masked.phase, flops=flops)

    def log_metrics(self, step: int) -> dict[str, float]:
        """The table's sizes on the steps it was fed (``step`` = steps done)."""
        if self.table is None or step % self.options.table_update_every != 0:
            return {}
        return {f"table_size_{i}": float(s) for i, s in enumerate(self.table.level_sizes())}

    @torch.no_grad()
    def validate(
        self, model: torch.nn.Module, windows: torch.Tensor, doc_starts: torch.Tensor
    ) -> dict[str, float]:
        net = unwrap(model)
        was_training = net.training
        net.eval()
        bits_sum, hidden_count = 0.0, 0
        sums: dict[str, float] = {}
        counts: dict[str, float] = {}
        try:
            for start in range(0, windows.shape[0], EVAL_CHUNK):
                w = windows[start : start + EVAL_CHUNK]
                d = doc_starts[start : start + EVAL_CHUNK]
                index = torch.arange(start, start + w.shape[0], device=w.device)
                bits, count = self._masked_byte_bits(net, w, d, index)
                bits_sum += bits
                hidden_count += count
                for key, (value, n) in self._level_accuracies(net, w, d, index).items():
                    sums[key] = sums.get(key, 0.0) + value * n
                    counts[key] = counts.get(key, 0.0) + n
        finally:
            net.train(was_training)
        result = {"bpb": bits_sum / max(hidden_count, 1), "eval_hidden_bytes": float(hidden_count)}
        for key in sorted(sums):
            result[key] = sums[key] / max(counts[key], 1.0)
        return result

    def _eval_masks(self, windows, index, rates: dict[str, float], seed: int) -> MaskedBatch:
        return make_masks(
            windows,
            self.mask_config,
            step=0,
            rates=rates,
            seed=seed,
            sample_index=index,
            boundaries="whitespace",
        )

    def _masked_byte_bits(self, net, windows, doc_starts, index) -> tuple[float, int]:
        """Sum of -log2 p(true byte) over bytes hidden by the fixed 15% byte mask, and count."""
        masked = self._eval_masks(windows, index, {"byte": EVAL_BYTE_RATE}, self.spec.eval_seed)
        out = forward(net, model_inputs(masked.input_ids, doc_starts, self.codes))
        logp = torch.log_softmax(out.byte_logits.float(), dim=-1)  # [B, L, 256]
        nll = -logp.gather(-1, masked.byte_targets[..., None]).squeeze(-1) / LN2  # [B, L] bits
        hidden = masked.hidden_bytes & ~masked.pad
        return float(nll[hidden].sum()), int(hidden.sum())

    def _level_accuracies(self, net, windows, doc_starts, index) -> dict[str, tuple[float, float]]:
        """acc_<level> under every level at its full rate, whitespace units, fixed seed."""
        rates = {level: self.mask_config.rate(level) for level in LEVELS}
        masked = self._eval_masks(windows, index, rates, self.spec.eval_seed + 1)
        out = forward(net, model_inputs(masked.input_ids, doc_starts, self.codes), targets=masked)
        result = {}
        for level in LEVELS:
            acc, n = out.metrics.get(f"acc_{level}"), out.metrics.get(f"n_{level}")
            if acc is not None and n is not None and float(n) > 0:
                result[f"acc_{level}"] = (float(acc), float(n))
        return result

    def eval_view(self, model: torch.nn.Module) -> BitSwinEval:
        net = unwrap(model)
        return BitSwinEval(
            net,
            device=str(next(net.parameters()).device),
            target_unit_bytes=self.mask_config.target_unit_bytes,
            code_table=self.fed_table,
            code_level=self.options.table_code_level,
            boundary_source=self.options.boundary_source
            if self.options.boundary_source == "entropy"
            else "model",
            precision=str(self.spec.settings.get("precision", "auto")),
        )

    def save_pretrained(self, model: torch.nn.Module, directory: Path) -> None:
        unwrap(model).save_pretrained(directory)

    # -- task state in checkpoints ---------------------------------------------------------------

    def save_state(self, directory: Path) -> None:
        """The grown table and the boundary snapshot."""
        directory.mkdir(parents=True, exist_ok=True)
        if self.table is not None:
            self.table.save(directory / "table")
        if self._snapshot is not None:
            save_tensors(directory / "boundary_model.safetensors", self._snapshot.state_dict())
            write_json_atomic(directory / "boundary_model.json", {"step": self._snapshot_step})

    def load_state(self, directory: Path) -> None:
        if self.table is not None and (directory / "table").is_dir():
            self.table = AdaptiveEncodingTable.load(directory / "table")
            if self.options.table_mode == "adaptive" and self.codes is not None:
                self.fed_table = self.table
                self.codes = TableCodes(self.table, self.options.table_code_level)
        snap = directory / "boundary_model.safetensors"
        if snap.is_file() and self.options.boundary_refresh_every > 1:
            self._snapshot = copy.deepcopy(unwrap(self.model))
            self._snapshot.requires_grad_(False)
            self._snapshot.load_state_dict(load_tensors(snap))
            self._snapshot_step = int(read_json(directory / "boundary_model.json")["step"])

    def finalize(self, run_dir: Path) -> None:
        if self.table is not None:
            self.table.save(Path(run_dir) / "table")
