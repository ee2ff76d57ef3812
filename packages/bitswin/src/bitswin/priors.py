"""What the level-1 router's prior (``loss_weights.router_prior``) pulls towards, computed from
the true bytes (a training target, like the byte loss; never an input). ``unit_prior`` names it:

- ``spacelike``: SpaceByte's rule (``routing.spacelike_starts``): a unit at every UTF-8 lead byte
  and at the first letter or digit after a spacelike ASCII byte. On Chinese every character
  starts a unit: 3 bytes per unit, far below a word (PKU gold words: 4.85 bytes).
- ``scripts``: every character is a *separator* (ASCII other than letters and digits; general,
  CJK and fullwidth punctuation, Latin-1 signs, symbols and emoji), *CJK* (kana, CJK ideographs
  and their extensions: scripts written without spaces) or a *word* character (everything else:
  letters and digits of spaced scripts, fullwidth digits). A unit starts where a word or CJK
  character follows a character of another kind, so on ASCII it is the spacelike rule (and an
  accented letter inside a word no longer starts a unit); separators stay with the unit before
  them. Between two CJK characters the prior says nothing: there the ratio loss alone sets the
  unit length (``unit_targets[0]`` bytes: 5 bytes is 1.7 three-byte characters).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bitswin.routing import spacelike_starts

SEPARATOR, WORD, CJK = 0, 1, 2
# Code point ranges [first, last] by kind (everything else outside ASCII is WORD).
_CJK_RANGES = ((0x3040, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
_SEPARATOR_RANGES = (
    (0x80, 0xBF),  # Latin-1 controls, no-break space, signs and punctuation
    (0x2000, 0x2BFF),  # general punctuation, super/subscripts, currency, arrows, math, shapes
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFF0F),  # fullwidth punctuation (and 0xFF1A.. below)
    (0xFF1A, 0xFF20),
    (0xFF3B, 0xFF40),
    (0xFF5B, 0xFF65),
    (0xFFE0, 0xFFEF),
    (0x1F000, 0x1FAFF),  # emoji and pictographs
)


def _next(value: torch.Tensor, k: int) -> torch.Tensor:
    """value shifted left by k positions (0 past the end): [B, L]."""
    return F.pad(value[:, k:], (0, k), value=0)


def code_points(value: torch.Tensor) -> torch.Tensor:
    """long [B, L]: the code point of the character starting at each byte (read from the byte
    and the ones after it), -1 at continuation bytes."""
    v = value.long()
    b1, b2, b3 = (_next(v, k) & 0x3F for k in (1, 2, 3))
    cp2 = ((v & 0x1F) << 6) | b1
    cp3 = ((v & 0x0F) << 12) | (b1 << 6) | b2
    cp4 = ((v & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3
    cp = torch.where((v & 0xF8) == 0xF0, cp4, torch.full_like(v, -1))
    cp = torch.where((v & 0xF0) == 0xE0, cp3, cp)
    cp = torch.where((v & 0xE0) == 0xC0, cp2, cp)
    return torch.where(v < 0x80, v, cp)


def _in(cp: torch.Tensor, ranges: tuple[tuple[int, int], ...]) -> torch.Tensor:
    found = torch.zeros_like(cp, dtype=torch.bool)
    for first, last in ranges:
        found = found | ((cp >= first) & (cp <= last))
    return found


def char_kinds(value: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """long [B, L]: SEPARATOR / WORD / CJK of the character each byte belongs to (continuation
    bytes take their character's kind; padding is SEPARATOR)."""
    cp = code_points(value)
    ascii_alnum = (
        ((cp >= ord("0")) & (cp <= ord("9")))
        | ((cp >= ord("A")) & (cp <= ord("Z")))
        | ((cp >= ord("a")) & (cp <= ord("z")))
    )
    kind = torch.full_like(cp, WORD)
    kind = torch.where((cp < 0x80) & ~ascii_alnum, SEPARATOR, kind)
    kind = torch.where(_in(cp, _SEPARATOR_RANGES), SEPARATOR, kind)
    kind = torch.where(_in(cp, _CJK_RANGES), CJK, kind)
    start = cp >= 0
    pos = torch.arange(cp.shape[1], device=cp.device).expand_as(cp)
    owner = torch.cummax(torch.where(start, pos, 0), dim=1).values  # the character's first byte
    kind = torch.gather(kind, 1, owner)
    return torch.where(valid, kind, SEPARATOR)


def unit_prior(rule: str, value: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(target float [B, L] in {0, 1}, defined bool [B, L]) of the prior ``rule`` on the true
    bytes ``value`` long [B, L]; ``valid`` bool [B, L] is not padding."""
    if rule == "spacelike":
        return spacelike_starts(value, valid).float(), valid
    kind = char_kinds(value, valid)
    # the row's first character follows nothing (its start is forced anyway): as in spacelike,
    # the prior does not call it a start
    before = torch.cat([kind[:, :1], kind[:, :-1]], dim=1)
    target = (kind != SEPARATOR) & (kind != before)
    defined = valid & ~((kind == CJK) & (before == CJK))
    return target.float(), defined
