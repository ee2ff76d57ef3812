"""The level-1 router's unit priors: spacelike (SpaceByte) and scripts (no prior inside runs of
CJK characters)."""

from __future__ import annotations

import pytest
import torch
from bitswin import BitSwinConfig, BitswinError, BitSwinModel
from bitswin.priors import CJK, SEPARATOR, WORD, char_kinds, code_points, unit_prior
from helpers import make_targets, text_bytes


def _bytes(text: str) -> torch.Tensor:
    return torch.tensor([list(text.encode())])


def _per_char(text: str, values: torch.Tensor) -> list:
    out, i = [], 0
    for ch in text:
        out.append(values[0, i].item())
        i += len(ch.encode())
    return out


def test_code_points_and_kinds():
    text = "a é，我𠀀😀１"
    v = _bytes(text)
    cps = _per_char(text, code_points(v))
    assert cps == [ord(ch) for ch in text]
    kinds = _per_char(text, char_kinds(v, torch.ones_like(v, dtype=torch.bool)))
    assert kinds == [WORD, SEPARATOR, WORD, SEPARATOR, CJK, CJK, SEPARATOR, WORD]
    # continuation bytes take their character's kind
    assert char_kinds(v, torch.ones_like(v, dtype=torch.bool))[0, -2:].tolist() == [WORD, WORD]


def test_scripts_is_spacelike_on_ascii():
    v = text_bytes()[None]
    valid = torch.ones_like(v, dtype=torch.bool)
    spacelike, all_defined = unit_prior("spacelike", v, valid)
    scripts, defined = unit_prior("scripts", v, valid)
    assert torch.equal(scripts, spacelike) and defined.all() and all_defined.all()


def test_scripts_leaves_cjk_runs_to_the_ratio_loss():
    text = "我们是中国人，今天1998年“好” café"
    v = _bytes(text)
    target, defined = unit_prior("scripts", v, torch.ones_like(v, dtype=torch.bool))
    starts = [ch for ch, t in zip(text, _per_char(text, target), strict=True) if t]
    assert starts == ["今", "1", "年", "好", "c"]  # after separators and script changes
    free = [ch for ch, d in zip(text, _per_char(text, defined), strict=True) if not d]
    assert free == list("我们是中国人天")  # CJK after CJK (or first in the row): no prior
    spacelike, _ = unit_prior("spacelike", v, torch.ones_like(v, dtype=torch.bool))
    assert _per_char(text, spacelike).count(1.0) > len(starts) + 6  # every lead byte


def test_the_prior_loss_is_zero_inside_cjk_runs_with_scripts():
    data = _bytes("我们是中国人民今天的天气很好" * 2)[:, :60]
    hidden = torch.zeros_like(data, dtype=torch.bool)
    targets = make_targets(data, hidden)
    losses = {}
    for rule in ("spacelike", "scripts"):
        torch.manual_seed(0)
        config = BitSwinConfig(
            depths=(1, 1, 1), widths=(8, 16, 16), heads=(1, 2, 2), windows=(8, 4, 4),
            unit_prior=rule,
        )  # fmt: skip
        out = BitSwinModel(config)(targets.input_ids, targets=targets)
        losses[rule] = float(out.losses["router_prior"])
    assert losses["scripts"] == 0.0 < losses["spacelike"]
    with pytest.raises(BitswinError, match="unit_prior"):
        BitSwinConfig.tiny(unit_prior="words")
