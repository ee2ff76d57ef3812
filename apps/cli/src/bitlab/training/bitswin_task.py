"""The ``bitswin`` training task: curriculum masks (bitmask) + the bit-level model (bitswin).

Per step: masks for the micro-batch from the curriculum (``make_masks`` with the global sample
ids, so masks are a pure function of (seed, sample, step)), one forward with the masked batch as
targets, the model's weighted task losses.

Word and phrase units (``boundary_source``):

- ``model`` (default): the model's own boundary head. An extra no-grad forward on the *unmasked*
  bytes gives a unit-start score per byte (the head regresses each byte's surprisal, so scores
  are high where a new unit begins); bitmask cuts units at the highest scores so that the mean
  unit length is ``mask.target_unit_bytes``. The boundary model is the live model
  (``boundary_refresh_every = 1``, the default: boundaries always from the current weights) or a
  frozen snapshot refreshed every K steps (K > 1: steadier units, saved in checkpoints so resume
  stays exact). Before the word phase no units are needed and the prior is used (bootstrap).
- ``entropy``: the byte head's predictive entropy (bits) at each byte when it is hidden, from two
  extra no-grad forwards with complementary every-other-byte masks (BLT's entropy patching,
  measured with the masked model itself).
- ``whitespace`` / ``class``: bitcodec priors (ablations).

Validation (``validate``) is DESIGN.md's definition: on fixed windows, ``bpb`` is the mean
-log2 p(true byte) under the byte head over the bytes hidden by a fixed-seed 15% byte mask (no
other masking), and ``acc_<level>`` are accuracies under a fixed-seed mask with every level at
its full rate and whitespace units (the same for every run, so runs compare).
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bitlab.errors import UserError
from bitlab.training.config import TrainConfig

log = logging.getLogger(__name__)

LN2 = math.log(2.0)
EVAL_BYTE_RATE = 0.15
EVAL_CHUNK = 32  # validation windows per forward


@dataclass(frozen=True)
class TaskLoss:
    """What ``loss`` returns: the scalar to backpropagate, metrics, the curriculum phase."""

    loss: torch.Tensor
    metrics: dict[str, float | torch.Tensor] = field(default_factory=dict)
    phase: int = 1


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / torch.compile wrappers (FSDP2 shards in place: no wrapper)."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            return model
        model = inner


def bit_ids(windows: torch.Tensor) -> torch.Tensor:
    """uint8/long [B, L] bytes -> long [B, 8L] bit ids (BIT0/BIT1), MSB first."""
    shifts = torch.arange(7, -1, -1, device=windows.device)
    bits = (windows.long()[..., None] >> shifts) & 1  # [B, L, 8]
    return bits.reshape(windows.shape[0], -1)  # [B, 8L]


def segment_ids(doc_starts: torch.Tensor) -> torch.Tensor:
    """bool [B, L] document starts -> long [B, L] document index within each window."""
    return torch.cumsum(doc_starts.long(), dim=1)


def build_model_config(model_preset: str, overrides: dict[str, Any]):
    from bitswin import BitSwinConfig
    from bitswin.errors import BitswinError

    presets = ("tiny", "base", "large")
    if model_preset not in presets:
        raise UserError(
            f"model_preset '{model_preset}' is unknown for bitswin: use one of {presets}"
        )
    base = getattr(BitSwinConfig, model_preset)().to_dict()
    base.pop("model_type", None)
    valid = set(base)
    for key in overrides:
        if key not in valid:
            import difflib

            close = difflib.get_close_matches(key, sorted(valid), n=1)
            hint = f" (did you mean 'model.{close[0]}'?)" if close else ""
            raise UserError(
                f"unknown model key 'model.{key}'{hint}: bitswin keys are {', '.join(sorted(valid))}"
            )
    merged = {**base, **overrides}
    if isinstance(base.get("loss_weights"), dict) and isinstance(
        overrides.get("loss_weights"), dict
    ):
        merged["loss_weights"] = {**base["loss_weights"], **overrides["loss_weights"]}
    try:
        return BitSwinConfig.from_dict(merged)
    except BitswinError as exc:
        raise UserError(f"model config: {exc}") from None


def build_mask_config(config: TrainConfig):
    from bitmask import MaskConfig
    from bitmask.errors import BitmaskError

    try:
        mask = MaskConfig.from_dict(dict(config.mask))
        if config.curriculum_unit == "step" and mask.unit == "epoch":
            mask = mask.compressed(config.max_steps)  # the epoch curriculum, in this run's steps
    except BitmaskError as exc:
        raise UserError(f"mask config: {exc}") from None
    return mask


def build_corruption(config: TrainConfig):
    if not config.corruption:
        return None
    from bitmask import CorruptionConfig
    from bitmask.errors import BitmaskError

    try:
        return CorruptionConfig(**dict(config.corruption))
    except TypeError as exc:
        raise UserError(f"corruption config: {exc}: see bitmask.CorruptionConfig") from None
    except BitmaskError as exc:
        raise UserError(f"corruption config: {exc}") from None


class BitSwinTask:
    """TrainTask of the bit-level model (see the module docstring)."""

    kind = "bitswin"

    def __init__(self, config: TrainConfig, *, steps_per_epoch: float) -> None:
        from bitmask import Curriculum
        from bitswin import BitSwinModel

        self.config = config
        self.seed = config.seed
        overrides = dict(config.model_config)
        self.code_table = None
        if config.table_codes:
            self.code_table = load_code_table(config)
            level = config.table_code_level
            overrides.setdefault("code_vocab_size", self.code_table.code_space(level))
        self.model_config = build_model_config(config.model_preset, overrides)
        self.mask_config = build_mask_config(config)
        self.corruption = build_corruption(config)
        self.curriculum = Curriculum(self.mask_config)
        self.steps_per_epoch = max(float(steps_per_epoch), 1e-9)
        torch.manual_seed(config.seed)  # identical initial weights on every rank and rerun
        self.model: torch.nn.Module = BitSwinModel(self.model_config)
        self._snapshot: torch.nn.Module | None = None
        self._snapshot_step = -1
        self._last_scores: torch.Tensor | None = None
        self.table = None
        if config.table_codes and config.table_mode == "adaptive":
            self.table = self.code_table  # grows with the run; its codes keep feeding the model
        elif config.table_enabled:
            from enctable import AdaptiveEncodingTable

            self.table = AdaptiveEncodingTable(levels=4, max_size=config.table_max_size)

    # -- curriculum ------------------------------------------------------------------------------

    def _when(self, step: int) -> dict[str, float | int]:
        if self.mask_config.unit == "step":
            return {"step": step}
        return {"epoch": step / self.steps_per_epoch}

    def curriculum_state(self, step: int) -> dict[str, Any]:
        return self.curriculum.at(**self._when(step)).to_dict()

    def phase(self, step: int) -> int:
        return self.curriculum.at(**self._when(step)).phase

    # -- boundaries ------------------------------------------------------------------------------

    def _boundary_model(self, model: torch.nn.Module, step: int) -> torch.nn.Module:
        live = unwrap(model)
        k = self.config.boundary_refresh_every
        if k <= 1:
            return live
        if self._snapshot is None or step // k != self._snapshot_step // k:
            if self._snapshot is None:
                self._snapshot = copy.deepcopy(live)
                self._snapshot.requires_grad_(False)
            self._snapshot.load_state_dict(live.state_dict())
            self._snapshot_step = step - step % k
        return self._snapshot

    @torch.no_grad()
    def boundary_scores(
        self, model: torch.nn.Module, windows: torch.Tensor, doc_starts: torch.Tensor, step: int
    ) -> torch.Tensor:
        """float [B, L] unit-start scores from the configured model-based source."""
        net = self._boundary_model(model, step)
        was_training = net.training
        net.eval()
        seg = segment_ids(doc_starts)
        try:
            with self._autocast(windows.device):
                if self.config.boundary_source == "entropy":
                    scores = self._entropy_scores(net, windows, seg)
                else:
                    ids = bit_ids(windows)
                    out = net(ids, segment_ids=seg, code_ids=self.code_ids(ids))
                    scores = out.boundary.float()  # [B, L]
        finally:
            net.train(was_training)
        from bitmask import char_level_scores

        scores = char_level_scores(windows, scores)  # units start at character starts only
        # A document start always starts a unit.
        scores = torch.where(doc_starts, scores.max() + 1.0, scores)
        self._last_scores = scores
        return scores

    def _entropy_scores(self, net, windows: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        from bitcodec.tokens import MASK_ID

        ids = bit_ids(windows)  # [B, 8L]
        b, n = windows.shape
        odd = (torch.arange(n, device=windows.device) % 2).bool()  # [L]
        scores = torch.zeros(b, n, device=windows.device)
        for hide in (odd, ~odd):
            hide_bits = hide.repeat_interleave(8).expand(b, -1)  # [B, 8L]
            shown = torch.where(hide_bits, MASK_ID, ids)
            logits = net(shown, segment_ids=seg, code_ids=self.code_ids(shown)).byte_logits
            logp = torch.log_softmax(logits.float(), dim=-1)  # [B, L, 256]
            entropy = -(logp.exp() * logp).sum(-1) / LN2  # [B, L] bits
            scores = torch.where(hide.expand(b, -1), entropy, scores)
        return scores

    def _boundaries(self, model, windows, doc_starts, step: int) -> str | torch.Tensor:
        source = self.config.boundary_source
        if source in ("whitespace", "class"):
            return source
        rates = self.curriculum.at(**self._when(step)).rates
        if rates.get("word", 0.0) <= 0.0 and rates.get("phrase", 0.0) <= 0.0:
            return self.config.boundary_prior  # bootstrap: no units needed before the word phase
        return self.boundary_scores(model, windows, doc_starts, step)

    # -- encoding-table codes as model input -----------------------------------------------

    def code_ids(self, input_ids: torch.Tensor) -> torch.Tensor | None:
        """long [B, L]: the code of the table unit covering each byte (None without a table).

        Codes are computed from what the model is *shown*, never from the true bytes: each
        window's shown bytes are encoded on their own at ``table_code_level`` (the table's best
        segmentation), every byte of a unit carries the unit's code, and every byte of a unit
        with any hidden (MASK) or PAD bit gets -1 ("no code"). Otherwise a code would reveal
        hidden bytes, or replaced bytes' originals in the contrastive task.
        """
        table = self.table if self.config.table_mode == "adaptive" else self.code_table
        if table is None or not self.config.table_codes:
            return None
        import numpy as np
        from bitcodec import batch_bits_to_bytes
        from bitcodec.tokens import BIT1

        b = input_ids.shape[0]
        ids = input_ids.reshape(b, -1, 8).cpu()  # [B, L, 8]
        shown = (ids <= BIT1).all(dim=-1)  # [B, L] all 8 bits are 0/1
        bits = torch.where(ids <= BIT1, ids, 0).to(torch.uint8).reshape(b, -1).numpy()
        rows = batch_bits_to_bytes(bits)  # [B, L] shown bytes (0 where hidden)
        level = self.config.table_code_level
        lookup = table.lookup(level)
        out = np.empty(rows.shape, dtype=np.int64)  # [B, L]
        unit = np.empty(rows.shape, dtype=np.int64)  # [B, L] index of each byte's unit
        for i, row in enumerate(rows):
            codes = table.encode(row, level)  # [n_units]
            safe = np.minimum(codes, len(lookup.code_len) - 1)
            lengths = np.where(codes < 256, 1, lookup.code_len[safe])  # bytes per unit
            out[i] = np.repeat(codes, lengths)
            unit[i] = np.repeat(np.arange(codes.size), lengths)
        unit_t = torch.from_numpy(unit)  # [B, L]
        unit_hidden = torch.zeros(rows.shape, dtype=torch.float32)
        unit_hidden.scatter_add_(1, unit_t, (~shown).float())  # [B, n_units (<= L)] hidden bytes
        blank = unit_hidden.gather(1, unit_t) > 0  # [B, L] byte's unit has a hidden byte
        codes_t = torch.from_numpy(out).masked_fill(blank, -1)
        return codes_t.to(input_ids.device)

    # -- TrainTask -------------------------------------------------------------------------------

    def _autocast(self, device: torch.device):
        if device.type == "cuda" and self.config.precision in ("auto", "bf16"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cpu" and self.config.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return torch.autocast(device.type, enabled=False)

    def loss(
        self,
        model: torch.nn.Module,
        windows: torch.Tensor,
        doc_starts: torch.Tensor,
        *,
        step: int,
        sample_index: torch.Tensor,
    ) -> TaskLoss:
        from bitmask import make_masks

        self._last_scores = None
        boundaries = self._boundaries(model, windows, doc_starts, step)
        masked = make_masks(
            windows,
            self.mask_config,
            **self._when(step),
            boundaries=boundaries,
            seed=self.seed,
            sample_index=sample_index,
            corruption=self.corruption,
        )
        with self._autocast(windows.device):
            out = model(
                masked.input_ids,
                segment_ids=segment_ids(doc_starts),
                targets=masked,
                code_ids=self.code_ids(masked.input_ids),
            )
        metrics: dict[str, float | torch.Tensor] = {f"loss_{k}": v for k, v in out.losses.items()}
        for key, value in out.metrics.items():
            if key.startswith("acc_") or key == "bpb_hidden":
                metrics[key] = value
        return TaskLoss(loss=out.loss, metrics=metrics, phase=masked.phase)

    @torch.no_grad()
    def validate(
        self, model: torch.nn.Module, windows: torch.Tensor, doc_starts: torch.Tensor
    ) -> dict[str, float]:
        """DESIGN.md metrics on fixed windows with fixed-seed masks (see the module docstring)."""
        net = unwrap(model)
        was_training = net.training
        net.eval()
        bits_sum = 0.0
        hidden_count = 0
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

    def _masked_byte_bits(self, net, windows, doc_starts, index) -> tuple[float, int]:
        """Sum of -log2 p(true byte) over bytes hidden by the fixed 15% byte mask, and count."""
        from bitmask import make_masks

        masked = make_masks(
            windows,
            self.mask_config,
            step=0,
            rates={"byte": EVAL_BYTE_RATE},
            seed=self.config.eval_seed,
            sample_index=index,
            boundaries="whitespace",
        )
        with self._autocast(windows.device):
            out = net(
                masked.input_ids,
                segment_ids=segment_ids(doc_starts),
                code_ids=self.code_ids(masked.input_ids),
            )
        logp = torch.log_softmax(out.byte_logits.float(), dim=-1)  # [B, L, 256]
        nll = -logp.gather(-1, masked.byte_targets[..., None]).squeeze(-1) / LN2  # [B, L] bits
        hidden = masked.hidden_bytes & ~masked.pad
        return float(nll[hidden].sum()), int(hidden.sum())

    def _level_accuracies(self, net, windows, doc_starts, index) -> dict[str, tuple[float, float]]:
        """acc_<level> under every level at its full rate, whitespace units, fixed seed."""
        from bitmask import make_masks

        cfg = self.mask_config
        rates = {level: cfg.rate(level) for level in ("bit", "byte", "word", "phrase")}
        masked = make_masks(
            windows,
            cfg,
            step=0,
            rates=rates,
            seed=self.config.eval_seed + 1,
            sample_index=index,
            boundaries="whitespace",
        )
        with self._autocast(windows.device):
            out = net(
                masked.input_ids,
                segment_ids=segment_ids(doc_starts),
                targets=masked,
                code_ids=self.code_ids(masked.input_ids),
            )
        result = {}
        for level in ("bit", "byte", "word", "phrase"):
            acc, n = out.metrics.get(f"acc_{level}"), out.metrics.get(f"n_{level}")
            if acc is not None and n is not None and float(n) > 0:
                result[f"acc_{level}"] = (float(acc), float(n))
        return result

    def save_pretrained(self, model: torch.nn.Module, directory: Path) -> None:
        unwrap(model).save_pretrained(directory)

    # -- optional hooks used by the trainer ----------------------------------------------------

    def after_step(
        self, model, step: int, windows: torch.Tensor, doc_starts: torch.Tensor, is_main: bool
    ) -> dict[str, float]:
        """Every ``table_update_every`` steps, feed the encoding table (``step`` = steps done)."""
        if self.table is None or step % self.config.table_update_every != 0:
            return {}
        scores = self._last_scores
        if scores is None or scores.shape != windows.shape:
            scores = self.boundary_scores(model, windows, doc_starts, step)
        if not is_main:
            return {}
        self.table.update_tables(
            windows.cpu().numpy(), scores.float().cpu().numpy(), attention_maps=None, step=step
        )
        sizes = self.table.level_sizes()
        return {f"table_size_{i}": float(s) for i, s in enumerate(sizes)}

    def save_state(self, directory: Path) -> None:
        """Task state a checkpoint must hold: the table and the boundary snapshot."""
        directory.mkdir(parents=True, exist_ok=True)
        if self.table is not None:
            self.table.save(directory / "table")
        if self._snapshot is not None:
            from bitlab.training.checkpoint import save_tensors, write_json_atomic

            save_tensors(directory / "boundary_model.safetensors", self._snapshot.state_dict())
            write_json_atomic(directory / "boundary_model.json", {"step": self._snapshot_step})

    def load_state(self, directory: Path) -> None:
        if self.table is not None and (directory / "table").is_dir():
            from enctable import AdaptiveEncodingTable

            self.table = AdaptiveEncodingTable.load(directory / "table")
        snap = directory / "boundary_model.safetensors"
        if snap.is_file() and self.config.boundary_refresh_every > 1:
            from bitlab.training.checkpoint import load_tensors, read_json

            self._snapshot = copy.deepcopy(unwrap(self.model))
            self._snapshot.requires_grad_(False)
            self._snapshot.load_state_dict(load_tensors(snap))
            self._snapshot_step = int(read_json(directory / "boundary_model.json")["step"])

    def finalize(self, run_dir: Path) -> None:
        if self.table is not None:
            self.table.save(Path(run_dir) / "table")


def load_code_table(config: TrainConfig):
    from enctable import AdaptiveEncodingTable
    from enctable.errors import EnctableError

    path = Path(config.table_codes)
    if not path.is_dir():
        raise UserError(
            f"--table '{path}' is not an encoding table directory: build one with "
            "`bitlab table build` or use a run's RUN/table"
        )
    try:
        table = AdaptiveEncodingTable.load(path)
    except EnctableError as exc:
        raise UserError(f"--table '{path}': {exc}") from None
    if not 1 <= config.table_code_level <= table.levels:
        raise UserError(
            f"table_code_level {config.table_code_level} is not a level of '{path}' "
            f"(it has levels 1..{table.levels})"
        )
    return table


def make_task(
    kind: str,
    model_config: dict[str, Any],
    *,
    train_split: Any,
    run_dir: Path,
    seed: int,
    total_steps: int,
    train_config: TrainConfig | None = None,
) -> Any:
    """The TrainTask for ``kind``: ``bitswin`` here, ``byte``/``bpe`` from bitbench.baselines."""
    if kind == "bitswin":
        if train_config is None:
            train_config = TrainConfig(
                model="bitswin", model_config=dict(model_config), seed=seed, max_steps=total_steps
            )
        cfg = train_config
        if cfg.steps_per_epoch > 0:
            steps_per_epoch = float(cfg.steps_per_epoch)
        else:  # one pass over the train split's bytes
            steps_per_epoch = train_split.num_bytes / (cfg.batch_size * cfg.seq_len)
        return BitSwinTask(cfg, steps_per_epoch=steps_per_epoch)
    if kind in ("byte", "bpe", "hf-bert"):
        from bitbench.baselines import make_baseline_task

        return make_baseline_task(
            kind,
            model_config,
            train_split=train_split,
            run_dir=run_dir,
            seed=seed,
            total_steps=total_steps,
        )
    raise UserError(f"model '{kind}' is unknown: use bitswin, byte, bpe or hf-bert")
