"""A font for character labels in plots: one with CJK glyphs where the machine has one.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs: drawn with it, every Han
character is an empty box and a "Glyph missing" warning. ``label_font`` looks for a CJK-capable
font among the fonts matplotlib knows (Noto Sans CJK, Source Han Sans, WenQuanYi, Droid Sans
Fallback...; on Debian: ``apt-get install fonts-noto-cjk``), also among the system's font files
when matplotlib's font cache predates the font, and ``char_label`` writes a character the chosen
font cannot draw as its code point (``U+5171``), so a machine without such a font gets readable
labels and no warnings. ``tick_style`` draws a row of labels that holds a code point rotated a
quarter turn in a smaller size: six characters side by side would run into their neighbours.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib import font_manager
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
)
CJK_FILE_HINTS = ("notosanscjk", "sourcehansans", "wqy", "droidsansfallback", "uming", "ukai")


@dataclass(frozen=True)
class LabelFont:
    """A font file and the code points it has glyphs for."""

    path: str
    name: str
    codepoints: frozenset[int]

    def properties(self) -> Any:
        return FontProperties(fname=self.path)


def _font_codepoints(path: str) -> frozenset[int]:
    return frozenset(FT2Font(path).get_charmap())


def _distance_from_regular(entry: Any) -> int:
    weight = font_manager.weight_dict.get(entry.weight, entry.weight)
    return abs(weight - 400) if isinstance(weight, int) else 1000


def _find_cjk_font() -> tuple[str, str] | None:
    entries = font_manager.fontManager.ttflist
    for family in CJK_FAMILIES:
        faces = [e for e in entries if e.name == family and e.style == "normal"]
        if faces:  # the regular face, not bold or light
            return min(faces, key=_distance_from_regular).fname, family
    for path in sorted(font_manager.findSystemFonts()):
        if any(hint in Path(path).name.lower() for hint in CJK_FILE_HINTS):
            return path, Path(path).stem
    return None


@functools.cache
def label_font(cjk: bool = True) -> LabelFont:
    """A CJK-capable font when ``cjk`` and the machine has one, else matplotlib's default."""

    found = _find_cjk_font() if cjk else None
    if found is not None:
        try:
            return LabelFont(found[0], found[1], _font_codepoints(found[0]))
        except (OSError, RuntimeError) as exc:  # an unreadable font file: use the default
            log.info("font %s unreadable (%s): character labels use the default font", found, exc)
    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))
    return LabelFont(path, Path(path).stem, _font_codepoints(path))


def char_label(ch: str, font: LabelFont) -> str:
    """How one character is written under its mark: itself when the font can draw it, visible
    marks for whitespace and controls, else its code point."""
    if ch == " ":
        return "␣"
    if ch == "\n":
        return "\\n"
    if len(ch) != 1:
        return ch if all(ord(c) in font.codepoints for c in ch) else "?"
    code = ord(ch)
    if code < 0x20:
        return f"x{code:02x}"
    if code in font.codepoints:
        return ch
    return f"U+{code:04X}"


def needs_cjk(chars: list[str]) -> bool:
    """Do these labels contain characters beyond Latin, Greek and Cyrillic (U+0500 and up)?"""
    return any(ord(c) >= 0x500 for ch in chars for c in ch)


def tick_style(labels: list[str]) -> dict[str, Any]:
    """Text properties for one label per column (about 0.3 inch wide): upright where every label
    is one or two characters, else (code points, ``U+5171``) rotated a quarter turn at size 7,
    so that neighbouring labels never overlap."""
    if any(len(label) > 2 for label in labels):
        return {"rotation": 90, "fontsize": 7}
    return {"rotation": 0, "fontsize": 9}
