"""`TableConfig`: every knob of the adaptive encoding table, frozen and JSON-able."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bittokens import DEFAULT_UNIT_BYTES

from enctable.errors import EnctableError

FIRST_PATTERN_CODE = 256  # codes 0..255 are the single bytes, at every level


def _default_run_units() -> tuple[tuple[int, int], ...]:
    return ((2, 3), (4, 6))


def _default_max_pattern_bytes() -> tuple[int, ...]:
    return (4, 32, 64, 96)


@dataclass(frozen=True)
class TableConfig:
    """Configuration of an `AdaptiveEncodingTable`.

    Levels: 1 = characters (multi-byte UTF-8 sequences; ASCII is already a byte code),
    2 = word-like units cut at the model's boundaries, 3.. = runs of consecutive level-2 units,
    ``run_units[k - 3] = (min_units, max_units)`` for level k.
    """

    levels: int = 4
    max_size: int = 10000  # patterns per level (its own block of codes)
    sketch_factor: int = 4  # heavy-hitters capacity per level = sketch_factor * max_size
    half_life_steps: float = 1000.0  # decay of all counts; math.inf = no decay
    boundary_threshold: float | None = None  # absolute: start where score > threshold
    target_unit_bytes: float = (
        DEFAULT_UNIT_BYTES  # else top-k per row: k = round(L / target_unit_bytes)
    )
    align_to_chars: bool = True  # never start a unit on a UTF-8 continuation byte
    trim_row_edges: bool = True  # rows are windows: their first/last unit may be cut off
    piece_weight: float = 0.5  # weight of a unit's proper prefixes/suffixes at level 2
    run_units: tuple[tuple[int, int], ...] = field(default_factory=_default_run_units)
    max_pattern_bytes: tuple[int, ...] = field(default_factory=_default_max_pattern_bytes)
    min_count: float = 2.0  # decayed count a pattern needs to get a code
    cost: str = "codes"  # DP cost per code: "codes" (1 each) or "bits" (-log2 p)
    attention_weight: float = 0.5  # weight of the attention cohesion term (when maps given)
    attention_window: int = 8  # bytes looked back for attention cohesion
    recent_bytes: int = 65536  # bytes kept for stats() when no sample is passed

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> EnctableError:
            return EnctableError(f"TableConfig.{name} {why}")

        if self.levels < 1:
            raise bad("levels", f"= {self.levels} must be >= 1: use 1..4 (or more)")
        if self.max_size < 1:
            raise bad("max_size", f"= {self.max_size} must be >= 1")
        if self.sketch_factor < 1:
            raise bad("sketch_factor", f"= {self.sketch_factor} must be >= 1")
        if not self.half_life_steps > 0:
            raise bad("half_life_steps", "must be > 0 (math.inf turns decay off)")
        if not self.target_unit_bytes >= 1.0:
            raise bad("target_unit_bytes", "must be >= 1 byte")
        if not 0.0 <= self.piece_weight <= 1.0:
            raise bad("piece_weight", "must be in [0, 1] (0 turns unit pieces off)")
        if len(self.run_units) < max(0, self.levels - 2):
            raise bad(
                "run_units",
                f"has {len(self.run_units)} entries but levels={self.levels} needs "
                f"{self.levels - 2} (one (min_units, max_units) pair per level >= 3)",
            )
        for lo, hi in self.run_units:
            if not 1 <= lo <= hi:
                raise bad("run_units", f"entry ({lo}, {hi}) needs 1 <= min_units <= max_units")
        if len(self.max_pattern_bytes) < self.levels:
            raise bad(
                "max_pattern_bytes",
                f"has {len(self.max_pattern_bytes)} entries, needs one per level ({self.levels})",
            )
        if any(n < 2 or n > 1024 for n in self.max_pattern_bytes):
            raise bad("max_pattern_bytes", "entries must be in 2..1024")
        if self.cost not in ("codes", "bits"):
            raise bad("cost", f"= {self.cost!r}: choose 'codes' or 'bits'")
        if self.attention_window < 1:
            raise bad("attention_window", "must be >= 1")
        if self.recent_bytes < 0:
            raise bad("recent_bytes", "must be >= 0")

    @property
    def sketch_capacity(self) -> int:
        return self.sketch_factor * self.max_size

    def code_block(self, level: int) -> tuple[int, int]:
        """[first, end) of the codes owned by ``level``'s own patterns."""
        first = FIRST_PATTERN_CODE + (level - 1) * self.max_size
        return first, first + self.max_size

    def code_space(self, level: int) -> int:
        """Number of code ids a level-``level`` encoding can emit (embedding size)."""
        return FIRST_PATTERN_CODE + level * self.max_size

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["run_units"] = [list(p) for p in self.run_units]
        out["max_pattern_bytes"] = list(self.max_pattern_bytes)
        if math.isinf(self.half_life_steps):
            out["half_life_steps"] = "inf"
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise EnctableError(
                f"table config has unknown field(s) {unknown}: remove them (known: {sorted(known)})"
            )
        kwargs = dict(data)
        if "run_units" in kwargs:
            kwargs["run_units"] = tuple(tuple(int(x) for x in p) for p in kwargs["run_units"])
        if "max_pattern_bytes" in kwargs:
            kwargs["max_pattern_bytes"] = tuple(int(x) for x in kwargs["max_pattern_bytes"])
        if kwargs.get("half_life_steps") == "inf":
            kwargs["half_life_steps"] = math.inf
        return cls(**kwargs)
