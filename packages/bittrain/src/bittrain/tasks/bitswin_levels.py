"""The masks a bitswin model is evaluated under, and its per-level accuracies.

Masks come from bitmask (``make_masks``) with a fixed seed and global sample indices, so the
numbers do not depend on the batch size. ``acc_bit`` / ``acc_byte`` / ``acc_word`` /
``acc_phrase`` measure each level with its own mask alone, at its appendix-B rate; word and
phrase units are the ones training masks: the model's own units when it has them, else cut from
its boundary scores.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from bitmask import MaskConfig, bit_ids, make_masks

from bittrain.engine.contracts import OptFlags, Tensor, Windows
from bittrain.engine.inputs import shown_ids

LEVEL_NAMES = ("bit", "byte", "word", "phrase")
# Appendix B rates: each level is measured with its own mask alone at this rate.
APPENDIX_B_RATES = {"bit": 0.15, "byte": 0.20, "word": 0.25, "phrase": 0.30}


def eval_masks(
    windows: Tensor,
    pad: torch.Tensor,
    *,
    target_unit_bytes: float,
    seed: int,
    rates: dict[str, float],
    boundaries: torch.Tensor | None = None,
    phrase: torch.Tensor | None = None,
) -> Any:
    """bitmask's masks of uint8 ``windows`` [N, L] with only the named levels on, at the given
    rates (no curriculum); global sample indices so a window's mask never depends on the batch
    it is in."""
    return make_masks(
        windows,
        MaskConfig(target_unit_bytes=float(target_unit_bytes)),
        step=0,
        boundaries=boundaries,
        phrase_boundaries=phrase,
        seed=seed,
        sample_index=torch.arange(windows.shape[0]),
        pad_mask=pad,
        rates=rates,
    )


class LevelAccuracies:
    """Mixin of ``BitSwinEval``: ``level_accuracies``. The class gives ``target_unit_bytes``,
    ``own_units``, ``boundary_scores`` and its batching: ``_as_tensor``, ``_pad_tensor``,
    ``_chunks`` and ``_forward`` (one forward of shown ids)."""

    target_unit_bytes: float

    def own_units(self, windows: Windows, **kwargs: Any) -> tuple[np.ndarray, ...] | None:
        raise NotImplementedError

    def boundary_scores(self, windows: Windows, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    def _as_tensor(self, windows: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def _pad_tensor(self, pad: np.ndarray | None, shape: tuple[int, ...]) -> torch.Tensor:
        raise NotImplementedError

    def _chunks(self, n: int) -> Iterator[slice]:
        raise NotImplementedError

    def _forward(self, input_ids: torch.Tensor, doc_starts: OptFlags = None) -> Any:
        raise NotImplementedError

    def level_accuracies(
        self,
        windows: Windows,
        *,
        seed: int = 0,
        pad: OptFlags = None,
        doc_starts: OptFlags = None,
        boundaries: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """acc_bit / acc_byte / acc_word / acc_phrase: each level's mask alone (appendix-B rates),
        word and phrase units as in training: the model's own units (``own_units``) when it has
        them, else cut from its boundary scores (``boundaries``, computed when not given).
        Also returns the number of hidden positions per level (``n_<level>``)."""
        w = self._as_tensor(windows)
        pad_t = self._pad_tensor(pad, tuple(w.shape))
        own = self.own_units(windows, pad=pad, doc_starts=doc_starts)
        phrase = None
        if own is not None:
            bounds = torch.as_tensor(own[0])
            phrase = torch.as_tensor(own[1]) if len(own) > 1 else None
        else:
            if boundaries is None:
                boundaries = self.boundary_scores(windows, pad=pad, doc_starts=doc_starts)
            bounds = torch.as_tensor(np.asarray(boundaries, dtype=np.float32))
        masks = {
            level: eval_masks(
                w,
                pad_t,
                target_unit_bytes=self.target_unit_bytes,
                seed=seed,
                rates={level: rate},
                boundaries=bounds,
                phrase=phrase,
            )
            for level, rate in APPENDIX_B_RATES.items()
        }
        right = dict.fromkeys(LEVEL_NAMES, 0)
        count = dict.fromkeys(LEVEL_NAMES, 0)
        pad_bits = pad_t.repeat_interleave(8, dim=1)
        for sl in self._chunks(w.shape[0]):
            starts = None if doc_starts is None else doc_starts[sl]
            bit_mask = masks["bit"].mask_bit[sl] & ~pad_bits[sl]
            out = self._forward(shown_ids(w[sl], hidden_bits=bit_mask, pad=pad_t[sl]), starts)
            bits = bit_ids(w[sl]).to(out.bit_logits.device)
            hit = ((out.bit_logits > 0).long() == bits) & bit_mask.to(bits.device)
            right["bit"] += int(hit.sum())
            count["bit"] += int(bit_mask.sum())
            for level in ("byte", "word", "phrase"):
                hidden = getattr(masks[level], f"mask_{level}")[sl] & ~pad_t[sl]
                if not bool(hidden.any()):
                    continue
                out = self._forward(shown_ids(w[sl], hidden_bytes=hidden, pad=pad_t[sl]), starts)
                pred = out.byte_logits.argmax(dim=-1).cpu()
                right[level] += int(((pred == w[sl].long()) & hidden).sum())
                count[level] += int(hidden.sum())
        result: dict[str, Any] = {}
        for level in LEVEL_NAMES:
            result[f"acc_{level}"] = right[level] / count[level] if count[level] else None
            result[f"n_{level}"] = count[level]
        return result
