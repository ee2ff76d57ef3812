"""The curriculum of seed sections 3.2 and 3.4: which levels are on, at which rate, in which phase.

A pure function of the epoch or step, so nothing needs saving in a checkpoint beyond the config
(``state_dict()`` returns it anyway, for trainers that expect one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bitmask.config import LEVELS, Level, MaskConfig
from bitmask.errors import BitmaskError

PHASE_NAMES: dict[int, str] = {
    1: "warm-up (bit only)",
    2: "basic (+byte)",
    3: "advanced (+word)",
    4: "high (+phrase)",
}


@dataclass(frozen=True)
class CurriculumState:
    """Where the curriculum stands at one time.

    ``rates`` has every level (0.0 when inactive); ``phase`` is 1 + the number of active levels
    above bit (1 warm-up, 2 +byte, 3 +word, 4 +phrase with the default thresholds). ``drawn``
    names the levels the per-window mixture can draw (None: no mixture, every level can mask);
    a level outside it is not active whatever its rate (a byte-only config stays in phase 2).
    """

    time: float
    unit: str
    rates: dict[str, float] = field(default_factory=dict)
    drawn: frozenset[str] | None = None

    @property
    def active(self) -> tuple[Level, ...]:
        return levels_in_force(self.rates, self.drawn)

    @property
    def phase(self) -> int:
        return phase_of(self.rates, self.drawn)

    @property
    def phase_name(self) -> str:
        return PHASE_NAMES[self.phase]

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "unit": self.unit,
            "phase": self.phase,
            "phase_name": self.phase_name,
            "active": [level.value for level in self.active],
            "rates": dict(self.rates),
        }


def levels_in_force(
    rates: dict[str, float], drawn: frozenset[str] | None = None
) -> tuple[Level, ...]:
    """The levels with a rate > 0 (and, with ``drawn``, that the mixture can draw)."""
    return tuple(
        level
        for level in LEVELS
        if rates.get(level.value, 0.0) > 0.0 and (drawn is None or level.value in drawn)
    )


def phase_of(rates: dict[str, float], drawn: frozenset[str] | None = None) -> int:
    """Phase 1..4 from the levels in force: 1 + how many of byte/word/phrase are in force."""
    return 1 + sum(level is not Level.BIT for level in levels_in_force(rates, drawn))


def drawn_levels(config: MaskConfig) -> frozenset[str] | None:
    """The levels a window can be masked by: those of weight > 0 with the level mixture on."""
    if not config.level_mixture:
        return None
    return frozenset(level.value for level in LEVELS if config.mix_weight(level) > 0)


class Curriculum:
    """Answers, for an epoch or a step, which levels are active and at what rate."""

    def __init__(self, config: MaskConfig | None = None) -> None:
        self.config = config if config is not None else MaskConfig()

    def time_of(self, epoch: float | None = None, step: int | None = None) -> float:
        """The curriculum clock: the epoch for ``unit="epoch"`` configs, the step otherwise."""
        cfg = self.config
        value = epoch if cfg.unit == "epoch" else step
        if value is None:
            other = "step" if cfg.unit == "epoch" else "epoch"
            hint = (
                "pass epoch=, or build the config with MaskConfig.for_steps(total_steps) to "
                "schedule in steps"
                if cfg.unit == "epoch"
                else "pass step= (this config counts in steps)"
            )
            got = (
                f" (got only {other}=)" if (epoch if other == "epoch" else step) is not None else ""
            )
            raise BitmaskError(f"the masking curriculum needs the current {cfg.unit}{got}: {hint}")
        if value < 0:
            raise BitmaskError(f"{cfg.unit} = {value!r}: must be >= 0")
        return float(value)

    def rate(self, level: Level | str, time: float) -> float:
        cfg = self.config
        level = Level(level)
        if level is Level.BIT:
            return cfg.rate_at(level, time)
        start = cfg.start(level)
        if start is None or time < start:
            return 0.0
        return min(cfg.rate_at(level, time), cfg.ramp_from + (time - start) * cfg.ramp_per_unit)

    def at(self, epoch: float | None = None, step: int | None = None) -> CurriculumState:
        time = self.time_of(epoch=epoch, step=step)
        rates = {level.value: self.rate(level, time) for level in LEVELS}
        return CurriculumState(
            time=time, unit=self.config.unit, rates=rates, drawn=drawn_levels(self.config)
        )

    def schedule(self, points: int = 101) -> list[CurriculumState]:
        """States at ``points`` evenly spaced times over [0, max_time] (for plots and tables)."""
        cfg = self.config
        times = [cfg.max_time * i / max(points - 1, 1) for i in range(points)]
        if cfg.unit == "epoch":
            return [self.at(epoch=t) for t in times]
        return [self.at(step=round(t)) for t in times]

    def state_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Curriculum:
        return cls(MaskConfig.from_dict(state["config"]))
