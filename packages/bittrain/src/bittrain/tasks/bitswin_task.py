"""The ``bitswin`` task: curriculum masks (bitmask) + the bit-level model (bitswin).

One step: word and phrase units for the masks (below), masks for the micro-batch from the
curriculum (``make_masks`` with the global sample ids: a pure function of (seed, sample, step)),
one forward of the masked batch with its targets, the model's weighted task losses.

Units of the word and phrase masks (``boundary_source``): ``model`` (the units the model itself
computes with: its routers' word and phrase starts on the unmasked bytes, from the no-grad
``units`` pass of :func:`bittrain.engine.model_units` - bit stage, byte encoder, routers, word
encoder - run only on the windows whose mixture level is word or phrase; models without unit
levels fall back to their unit-start scores, one forward) or ``entropy`` (the byte head's
entropy, two forwards), the scores by :func:`bittrain.engine.boundary_scores`; the live model,
or a frozen snapshot refreshed every ``boundary_refresh_every`` steps (saved in checkpoints so
resume stays exact). Before the word phase no units are needed and the prior
(``boundary_prior``) is used; ``whitespace`` / ``class`` use bitcodec's priors throughout.

FLOPs: each pass as it ran (``bitswin.realised_flops_per_byte`` on its distinct bit patterns and
unit slots), the training forward 3x, no-grad passes 1x. ``planned_flops`` (the step count a
``--max-flops`` budget buys) plans with PLAN_PATTERNS distinct patterns per byte and unit slots
PLAN_SLOTS x items / target.

Validation is DESIGN.md's: on fixed windows, ``bpb`` is the mean -log2 p(true byte) over the
bytes hidden by a fixed-seed 15% byte mask, and ``acc_<level>`` are accuracies under a fixed-seed
mask with every level at its full rate and whitespace units (the same for every run).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from bitmask import Curriculum, MaskedBatch, make_masks, window_levels
from bitswin import (
    BitSwinModel,
    estimate_flops_per_byte,
    realised_flops_per_byte,
)
from enctable import AdaptiveEncodingTable

from bittrain.engine.bits import target_bits
from bittrain.engine.codes import TableCodes
from bittrain.engine.contracts import Module, TaskBase, TaskLoss, TaskSpec, Tensor
from bittrain.engine.inputs import forward, model_inputs
from bittrain.engine.modules import eval_mode, model_device, unwrap
from bittrain.engine.unit_scores import boundary_scores, has_units, model_units, passes_of
from bittrain.fileio import load_tensors, read_json, save_tensors, write_json_atomic
from bittrain.tasks import bitswin_config as setup
from bittrain.tasks.bitswin_eval import BitSwinEval

EVAL_BYTE_RATE = 0.15
EVAL_CHUNK = 32  # validation windows per forward
LEVELS = ("bit", "byte", "word", "phrase")
GRAD_PASS = 3.0  # a forward with backward costs about three forwards
# Planning (--max-flops): measured on tiny Shakespeare, 16 x 256 bytes: 0.008-0.06 distinct
# bit patterns per byte (bit masks add patterns), unit slots 1.2-1.35 x items / target.
PLAN_PATTERNS = 0.05
PLAN_SLOTS = 1.3
UNIT_METRICS = (
    "bytes_per_word_unit",
    "words_per_phrase_unit",
    "bytes_per_phrase_unit",
    "forced_word_fraction",
    "forced_phrase_fraction",
    "bit_patterns_per_byte",
    "loss_ratio",
)


@dataclass(frozen=True)
class StepUnits:
    """Where one step's word and phrase masks take their units from: a prior of bitcodec's
    (``prior``), unit-start scores (``scores`` float [B, L]: the top-k per row start units), or
    the model's own units (``word_starts`` / ``phrase_starts`` bool [B, L])."""

    prior: str | None = None
    scores: Tensor | None = None
    word_starts: Tensor | None = None
    phrase_starts: Tensor | None = None
    flops: float = 0.0  # forward FLOPs of the passes that found them
    metrics: dict[str, float] = field(default_factory=dict)  # the units pass's clean_* numbers

    @property
    def boundaries(self) -> str | Tensor:
        """bitmask.make_masks' ``boundaries`` argument."""
        for given in (self.word_starts, self.scores, self.prior):
            if given is not None:
                return given
        raise ValueError("StepUnits names no unit source")


class BitSwinTask(TaskBase):
    """TrainTask of the bit-level model (see the module docstring)."""

    kind = "bitswin"

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self.options = spec.options or setup.BitSwinTaskOptions()
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

    def _plan_per_byte(self, units: bool = False) -> float:
        """Planned forward FLOPs per byte (of the units pass with ``units``)."""
        c, n = self.model_config, self.spec.seq_len
        slots, items = [], n
        for target in c.unit_targets or ():
            items = (
                n
                if c.router == "none"
                else max(1, min(items, math.ceil(PLAN_SLOTS * items / target)))
            )
            slots.append(items)
        patterns = PLAN_PATTERNS if c.bit_unique else None
        return estimate_flops_per_byte(
            c, n, bit_patterns_per_byte=patterns, unit_slots=slots or None, units=units
        )

    def _forward_flops(self, n_windows: int) -> float:
        return self._plan_per_byte() * n_windows * self.spec.seq_len

    def _own_units(self) -> bool:
        """Word / phrase units from the model's routers (else from its unit-start scores)."""
        return self.options.boundary_source == "model" and has_units(self.model)

    def _needs_units(self, rates: dict[str, float]) -> bool:
        model_based = self.options.boundary_source in ("model", "entropy")
        return model_based and (rates.get("word", 0.0) > 0 or rates.get("phrase", 0.0) > 0)

    def _units_share(self, rates: dict[str, float]) -> float:
        """Expected share of windows that need units (the level mixture draws word/phrase)."""
        cfg = self.mask_config
        active = [lv for lv in LEVELS if rates.get(lv, 0.0) > 0]
        if not cfg.level_mixture or len(active) < 2:
            return 1.0
        weights = {lv: cfg.mix_weight(lv) for lv in active}
        total = sum(weights.values()) or float(len(active))
        return sum(weights.get(lv, 0.0) for lv in ("word", "phrase")) / total

    def _table_due(self, step: int) -> bool:
        """Whether step ``step`` (0-based) feeds the encoding table (rank 0 only)."""
        return self.table is not None and (step + 1) % self.options.table_update_every == 0

    def _score_passes(self, step: int, rates: dict[str, float], is_main: bool) -> int:
        """Forwards of unit-start scores this step (units for masks, or the table's feed)."""
        if self._needs_units(rates) and not self._own_units():
            return passes_of(self.options.boundary_source)
        if is_main and self._table_due(step):
            source = self.options.boundary_source
            return passes_of(source if source in ("model", "entropy") else "model")
        return 0

    def planned_flops(self, total_steps: int) -> float:
        curriculum = Curriculum(setup.mask_config(self.spec, self.options, total_steps))
        forward_cost = self._forward_flops(self.spec.batch_size)
        units_cost = self._plan_per_byte(units=True) * self.spec.batch_size * self.spec.seq_len
        total = 0.0
        for step in range(total_steps):
            rates = self._rates(step, curriculum)
            total += forward_cost * GRAD_PASS
            if self._needs_units(rates) and self._own_units():
                total += units_cost * self._units_share(rates)
            total += forward_cost * self._score_passes(step, rates, is_main=False)
        return total

    # -- boundaries ------------------------------------------------------------------------------

    def _boundary_model(self, model: Module, step: int) -> torch.nn.Module:
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

    def _scores(self, model, windows, doc_starts, step: int):
        """BoundaryScores (unit-start scores and the FLOPs of their passes)."""
        source = self.options.boundary_source
        return boundary_scores(
            self._boundary_model(model, step),
            windows,
            doc_starts,
            source=source if source in ("model", "entropy") else "model",
            codes=self.codes,
        )

    # -- TrainTask -------------------------------------------------------------------------------

    def _mask_units(
        self,
        model: Module,
        windows: Tensor,
        doc_starts: Tensor,
        step: int,
        sample_index: Tensor,
        rates: dict[str, float],
    ) -> StepUnits:
        """Where this step's word and phrase masks take their units from."""
        source = self.options.boundary_source
        if not self._needs_units(rates):
            prior = source if source in ("whitespace", "class") else self.options.boundary_prior
            return StepUnits(prior=prior)
        if not self._own_units():
            scores = self._scores(model, windows, doc_starts, step)
            return StepUnits(scores=scores.scores, flops=scores.flops)
        b, n = windows.shape
        levels = window_levels(
            b,
            self.mask_config,
            **self._when(step),
            seed=self.spec.seed,
            sample_index=sample_index,
            device=windows.device,
        )
        rows = torch.nonzero((levels < 0) | (levels >= 2)).flatten()  # windows masking units
        word = torch.zeros(b, n, dtype=torch.bool, device=windows.device)
        phrase = torch.zeros_like(word) if self.model_config.num_levels > 1 else None
        if rows.numel() == 0:
            return StepUnits(word_starts=word, phrase_starts=phrase)
        units = model_units(
            self._boundary_model(model, step), windows[rows], doc_starts[rows], codes=self.codes
        )
        word[rows] = units.starts[0]
        if phrase is not None:
            phrase[rows] = units.starts[1]
        metrics = {
            f"clean_{k}": float(units.metrics[k]) for k in UNIT_METRICS if k in units.metrics
        }
        return StepUnits(word_starts=word, phrase_starts=phrase, flops=units.flops, metrics=metrics)

    def loss(
        self, model: Module, windows: Tensor, doc_starts: Tensor, *, step: int, sample_index: Tensor
    ) -> TaskLoss:
        rates = self._rates(step)
        is_main = self.spec.is_main
        units = self._mask_units(model, windows, doc_starts, step, sample_index, rates)
        flops = units.flops
        if is_main and self._table_due(step):
            scores = units.scores
            if scores is None:
                fed = self._scores(model, windows, doc_starts, step)
                scores, flops = fed.scores, flops + fed.flops
            assert self.table is not None
            self.table.update_tables(
                windows.cpu().numpy(), scores.float().cpu().numpy(), step=step + 1
            )
        masked = make_masks(
            windows,
            self.mask_config,
            **self._when(step),
            boundaries=units.boundaries,
            phrase_boundaries=units.phrase_starts,
            seed=self.spec.seed,
            sample_index=sample_index,
            corruption=self.corruption,
        )
        out = forward(model, model_inputs(masked.input_ids, doc_starts, self.codes), targets=masked)
        metrics: dict[str, float | torch.Tensor] = {f"loss_{k}": v for k, v in out.losses.items()}
        for key, value in out.metrics.items():
            if key.startswith("acc_") or key == "bpb_hidden" or key in UNIT_METRICS:
                metrics[key] = value
        metrics.update(units.metrics)
        n = windows.shape[1]
        per_byte = realised_flops_per_byte(self.model_config, n, out.metrics)
        flops += per_byte * windows.shape[0] * n * GRAD_PASS
        return TaskLoss(loss=out.loss, metrics=metrics, phase=masked.phase, flops=flops)

    def log_metrics(self, step: int) -> dict[str, float]:
        """The table's sizes on the steps it was fed (``step`` = steps done)."""
        if self.table is None or step % self.options.table_update_every != 0:
            return {}
        return {f"table_size_{i}": float(s) for i, s in enumerate(self.table.level_sizes())}

    @torch.no_grad()
    def validate(
        self, model: Module, windows: Tensor, doc_starts: torch.Tensor
    ) -> dict[str, float]:
        net = unwrap(model)
        bits_sum, hidden_count = 0.0, 0
        sums: dict[str, float] = {}
        counts: dict[str, float] = {}
        with eval_mode(net):
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
        nll = target_bits(out.byte_logits, masked.byte_targets)  # [B, L] bits
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
            device=str(model_device(net)),
            target_unit_bytes=self.mask_config.target_unit_bytes,
            code_table=self.fed_table,
            code_level=self.options.table_code_level,
            boundary_source=self.options.boundary_source
            if self.options.boundary_source == "entropy"
            else "model",
            precision=self.spec.precision,
        )

    def save_pretrained(self, model: Module, directory: Path) -> None:
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
