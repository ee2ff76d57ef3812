"""``make_masks``: one call from a batch of bytes to a ``MaskedBatch`` (inputs and all targets).

Everything runs as whole-tensor operations on the input's device; the only Python loops are over
the four levels and over the phrase span offsets (bounded by ``span_cap``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from bittokens import MASK_ID, PAD_ID

from bitmask import cohesion as cohesion_ops
from bitmask import corruption as corrupt_ops
from bitmask import levels
from bitmask.batch import IGNORE_INDEX, MaskedBatch
from bitmask.bits import bytes_to_bits
from bitmask.config import LEVELS, CorruptionConfig, Level, MaskConfig
from bitmask.curriculum import Curriculum, drawn_levels, phase_of
from bitmask.errors import BitmaskError
from bitmask.facts_torch import byte_facts
from bitmask.hashrng import Stream, sample_keys, time_code
from bitmask.placement import shuffled_starts
from bitmask.units import Units, segment

log = logging.getLogger(__name__)


def _check_bytes(byte_batch: torch.Tensor) -> torch.Tensor:
    if not isinstance(byte_batch, torch.Tensor):
        raise BitmaskError(
            f"byte_batch is a {type(byte_batch).__name__}: pass a torch tensor [B, L] of bytes "
            "(torch.from_numpy(array) for numpy)"
        )
    if byte_batch.ndim != 2:
        raise BitmaskError(
            f"byte_batch has shape {tuple(byte_batch.shape)}: pass a 2-D tensor [B, L] "
            "(add a batch dimension with .unsqueeze(0) for one sequence)"
        )
    if byte_batch.dtype == torch.uint8:
        return byte_batch.to(torch.int64)
    if byte_batch.dtype.is_floating_point or byte_batch.dtype == torch.bool:
        raise BitmaskError(
            f"byte_batch has dtype {byte_batch.dtype}: pass uint8 (or an integer dtype with "
            "values 0..255)"
        )
    data = byte_batch.to(torch.int64)
    if data.numel() and bool(((data < 0) | (data > 255)).any()):
        raise BitmaskError("byte_batch holds values outside 0..255: pass bytes")
    return data


def _check_like(name: str, tensor: torch.Tensor, shape: tuple[int, ...], hint: str) -> None:
    if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape:
        got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise BitmaskError(f"{name} has shape {got}, expected {shape}: {hint}")


def _rates_in_force(
    config: MaskConfig,
    epoch: float | None,
    step: int | None,
    rates: Mapping[str | Level, float] | None,
) -> dict[str, float]:
    if rates is None:
        return dict(Curriculum(config).at(epoch=epoch, step=step).rates)
    resolved = {level.value: 0.0 for level in LEVELS}
    for key, value in rates.items():
        try:
            name = Level(key).value
        except ValueError:
            raise BitmaskError(
                f"rates has an unknown level {key!r}: use {', '.join(lv.value for lv in LEVELS)}"
            ) from None
        if not (0.0 <= float(value) <= 1.0):
            raise BitmaskError(f"rates[{name!r}] = {value!r}: a rate must be in [0, 1]")
        resolved[name] = float(value)
    return resolved


def _sample_index(sample_index: torch.Tensor | None, batch: int, device) -> torch.Tensor:
    if sample_index is None:
        return torch.arange(batch, device=device)
    if not isinstance(sample_index, torch.Tensor):
        sample_index = torch.as_tensor(sample_index)
    _check_like(
        "sample_index", sample_index, (batch,), "pass one global index per sample (long [B])"
    )
    return sample_index.to(device=device, dtype=torch.int64)


def _mixture(
    cfg: MaskConfig, keys: torch.Tensor, rates_now: dict[str, float]
) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None]:
    """(window_level long [B]: index in LEVELS, -1 = stacked; the draw per level or None)."""
    window_level = torch.full(keys.shape, -1, dtype=torch.int64, device=keys.device)
    drawn = None
    if cfg.level_mixture:
        weights = {lv.value: cfg.mix_weight(lv) for lv in LEVELS}
        drawn = levels.mixture_draw(keys, rates_now, weights)
    if drawn is not None:
        for i, level in enumerate(LEVELS):
            if level.value in drawn:
                window_level = torch.where(drawn[level.value], i, window_level)
    return window_level, drawn


def _placed(units: Units, cfg: MaskConfig, valid, facts, keys, stream: Stream) -> Units:
    """The units as the config places them: as given, or laid out again at random."""
    if cfg.unit_placement != "random":
        return units
    starts = shuffled_starts(units, valid, keys, stream)
    return segment(valid, facts, starts, cfg.target_unit_bytes)


def _check_cohesion(
    cohesion: torch.Tensor | None, cfg: MaskConfig, rates_now: dict[str, float], shape, device
) -> torch.Tensor | None:
    """The join scores when units are chosen by cohesion (None otherwise)."""
    if cfg.unit_choice != "cohesion":
        return None
    if cohesion is None:
        if rates_now["word"] > 0 or rates_now["phrase"] > 0:
            raise BitmaskError(
                "MaskConfig.unit_choice = 'cohesion' needs cohesion= float [B, L] join scores "
                "(e.g. bitmask.join_scores(bytes, bitmask.bigram_pmi(texts)))"
            )
        return None
    _check_like("cohesion", cohesion, shape, "pass one float join score per byte")
    if not cohesion.dtype.is_floating_point:
        raise BitmaskError(f"cohesion has dtype {cohesion.dtype}: pass float join scores [B, L]")
    return cohesion.to(device)


def _unit_mask(
    keys, units: Units, rate: float, cfg: MaskConfig, valid, facts, join, streams
) -> torch.Tensor:
    """Whole units of the word level (or of given phrase units): uniform or by cohesion."""
    if join is None:
        return levels.word_mask(keys, units, rate, cfg.mask_space_units, streams[0])
    eligible = units.maskable
    if cfg.mask_space_units:
        slots = torch.arange(units.max_units, device=valid.device)
        eligible = slots[None, :] < units.count[:, None]
    z = cohesion_ops.unit_cohesion(join, units, valid, facts.char_start)
    return cohesion_ops.cohesive_choice(
        keys, units, z, rate, cfg.cohesion_strength, eligible, streams[1]
    )


def window_levels(
    batch: int,
    config: MaskConfig | None = None,
    *,
    epoch: float | None = None,
    step: int | None = None,
    seed: int = 0,
    sample_index: torch.Tensor | None = None,
    rates: Mapping[str | Level, float] | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """long [batch]: the level (index in LEVELS: 0 bit .. 3 phrase) that ``make_masks`` with
    the same arguments masks each window with, -1 where levels are stacked. Cheap: a trainer
    can compute word / phrase units (e.g. a model's clean-text pass) only for the windows
    that need them."""
    cfg = config if config is not None else MaskConfig()
    index = _sample_index(sample_index, batch, device)
    rates_now = _rates_in_force(cfg, epoch, step, rates)
    keys = sample_keys(int(seed), time_code(epoch, step), index)
    return _mixture(cfg, keys, rates_now)[0]


def make_masks(
    byte_batch: torch.Tensor,
    config: MaskConfig | None = None,
    *,
    epoch: float | None = None,
    step: int | None = None,
    boundaries: str | torch.Tensor | None = None,
    phrase_boundaries: torch.Tensor | None = None,
    seed: int = 0,
    sample_index: torch.Tensor | None = None,
    pad_mask: torch.Tensor | None = None,
    rates: Mapping[str | Level, float] | None = None,
    replacement_logits: torch.Tensor | None = None,
    corruption: CorruptionConfig | None = None,
    cohesion: torch.Tensor | None = None,
) -> MaskedBatch:
    """Masks, model inputs and targets for a batch of bytes.

    byte_batch: uint8 (or integer 0..255) [B, L]. config: rates and curriculum (default
    ``MaskConfig()``). epoch / step: where the run is (the curriculum reads ``config.unit``; the
    random stream reads the step if given, else the epoch). boundaries: the word units:
    ``"whitespace"``, ``"class"``, float unit-start scores [B, L], or bool unit starts [B, L]
    (default ``config.boundaries``). phrase_boundaries: bool [B, L] phrase-unit starts (e.g. a
    model's level-2 units): the phrase level then masks whole phrase units; without it, spans of
    word units. With ``config.level_mixture`` and several active levels, each window is masked
    by one level drawn from the mixture (``MaskedBatch.window_level``). seed and
    sample_index (long [B], default arange(B)): a sample's masks depend only on (seed, its
    sample_index, step/epoch), never on the rest of the batch (except with
    ``replace_source="batch"``). pad_mask: bool [B, L], True = padding. corruption: BERT
    80/10/10 and/or ELECTRA replacement (``CorruptionConfig``); replacement_logits [B, L, 256]
    for ``replace_source="predictions"``. rates: {level: rate} overriding the curriculum (e.g.
    ``{"byte": 0.15}`` for evaluation); levels not named are off. cohesion: float [B, L] join
    scores (``bitmask.join_scores``), needed by ``unit_choice="cohesion"``.
    """
    cfg = config if config is not None else MaskConfig()
    corrupt = corruption
    data = _check_bytes(byte_batch)  # long [B, L]
    batch, length = data.shape
    device = data.device
    if pad_mask is None:
        pad = torch.zeros(batch, length, dtype=torch.bool, device=device)
    else:
        _check_like("pad_mask", pad_mask, (batch, length), "pass bool [B, L], True = padding")
        pad = pad_mask.to(device=device, dtype=torch.bool)
    valid = ~pad
    index = _sample_index(sample_index, batch, device)
    rates_now = _rates_in_force(cfg, epoch, step, rates)
    keys = sample_keys(int(seed), time_code(epoch, step), index)  # [B]

    source = cfg.boundaries if boundaries is None else boundaries
    facts = byte_facts(data, pad, class_changes=isinstance(source, str) and source == "class")
    units = segment(valid, facts, source, cfg.target_unit_bytes)
    units = _placed(units, cfg, valid, facts, keys, Stream.RANDOM_WORD_UNITS)
    join = _check_cohesion(cohesion, cfg, rates_now, (batch, length), device)
    mask_bit = levels.bit_mask(keys, valid, rates_now["bit"])  # [B, 8L]
    char_start = facts.char_start if cfg.byte_unit == "char" else None
    mask_byte = levels.byte_mask(keys, valid, rates_now["byte"], char_start)  # [B, L]
    word_streams = (Stream.WORD, Stream.COHESION_WORD)
    mask_word = _unit_mask(keys, units, rates_now["word"], cfg, valid, facts, join, word_streams)
    if phrase_boundaries is None:
        mask_phrase = levels.phrase_mask(keys, units, rates_now["phrase"], cfg.span_p, cfg.span_cap)
    else:
        _check_like(
            "phrase_boundaries",
            phrase_boundaries,
            (batch, length),
            "pass bool [B, L] phrase-unit starts (one flag per byte)",
        )
        if phrase_boundaries.dtype != torch.bool:
            raise BitmaskError(
                f"phrase_boundaries has dtype {phrase_boundaries.dtype}: pass bool [B, L] "
                "phrase-unit starts"
            )
        phrase_units = segment(valid, facts, phrase_boundaries, cfg.target_unit_bytes)
        phrase_units = _placed(phrase_units, cfg, valid, facts, keys, Stream.RANDOM_PHRASE_UNITS)
        phrase_streams = (Stream.PHRASE_UNIT, Stream.COHESION_PHRASE)
        mask_phrase = _unit_mask(
            keys, phrase_units, rates_now["phrase"], cfg, valid, facts, join, phrase_streams
        )
    window_level, drawn = _mixture(cfg, keys, rates_now)
    if drawn is not None:  # one level per window: the other levels' masks are dropped
        use = {level.value: (window_level == i)[:, None] for i, level in enumerate(LEVELS)}
        mask_bit = mask_bit & levels.expand_bits(use["bit"].expand(batch, length))
        mask_byte = mask_byte & use["byte"]
        mask_word = mask_word & use["word"]
        mask_phrase = mask_phrase & use["phrase"]
    selected = mask_byte | mask_word | mask_phrase  # bytes the byte head predicts

    shown_bytes, as_mask = data, selected
    if corrupt is not None and corrupt.bert:
        shown = corrupt_ops.bert_80_10_10(keys, data, selected, corrupt)
        shown_bytes, as_mask = shown.shown_bytes, shown.as_mask
    if corrupt is not None and corrupt.replace_rate > 0.0:
        shown_bytes = corrupt_ops.electra_replace(
            keys, data, shown_bytes, valid, selected, units, corrupt, replacement_logits
        )

    # Bit level in uint8 (8x less memory traffic than int64), widened to long once at the end.
    true_bits = bytes_to_bits(data)  # uint8 [B, 8L]
    hidden_bits = mask_bit | levels.expand_bits(as_mask)  # [B, 8L]
    pad_bits = levels.expand_bits(pad)  # [B, 8L]
    if shown_bytes is data:  # nothing corrupted: shown bits are the true bits
        shown_bits = true_bits
        replaced = torch.zeros_like(pad)
    else:
        shown_bits = bytes_to_bits(shown_bytes)
        # replaced: a visible bit differs from the truth
        differs = (shown_bits != true_bits) & ~hidden_bits  # [B, 8L]
        replaced = differs.reshape(batch, length, 8).any(dim=2) & valid  # [B, L]
    # The shown bit where visible, MASK_ID where hidden, PAD_ID on padding (hidden bits are
    # never padding, so the three terms never overlap).
    hidden_u8, pad_u8 = hidden_bits.view(torch.uint8), pad_bits.view(torch.uint8)  # 0/1
    ids = shown_bits * ((hidden_u8 | pad_u8) ^ 1)
    ids += hidden_u8 * MASK_ID
    ids += pad_u8 * PAD_ID
    input_ids = ids.long()
    bit_targets = true_bits.long()

    ignore = torch.full_like(data, IGNORE_INDEX)
    return MaskedBatch(
        input_ids=input_ids,
        bit_targets=bit_targets,
        byte_targets=data,
        mask_bit=mask_bit,
        mask_byte=mask_byte,
        mask_word=mask_word,
        mask_phrase=mask_phrase,
        hidden_bits=hidden_bits,
        hidden_bytes=as_mask,
        predict_bits=mask_bit | levels.expand_bits(selected),
        predict_bytes=selected,
        pad=pad,
        replaced=replaced,
        utf8_role=torch.where(valid, facts.utf8_role, ignore),
        char_class=torch.where(valid, facts.char_class, ignore),
        unit_start=units.start,
        unit_id=units.unit_id,
        phase=phase_of(rates_now, drawn_levels(cfg)),
        rates=rates_now,
        window_level=window_level,
    )
