"""The stages above the bits: bytes -> word units -> phrase units and back (a U-Net of Swin
stages, as H-Net nests encoder / main network / decoder).

Way down, per stage i >= 1 (bytes, word units, phrase units): its encoder blocks on its items,
then (unless it is the innermost stage) the level's router picks unit starts on that output,
and the items are pooled into units, the next stage's items. The innermost stage runs all of
its blocks. Way up: units are upsampled onto their items (+ the encoder output as residual)
and the stage's decoder blocks run. Router "none": every byte is its own unit at every level
(the stages run per byte, the ablation of today's layout).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.profiler import record_function

from bitswin.blocks import SwinStage
from bitswin.config import BitSwinConfig
from bitswin.pooling import UnitIndex, UnitPool, UnitUpsample, unit_index, unit_sums
from bitswin.routing import (
    ByteView,
    CosineRouter,
    Routing,
    route,
    segment_starts,
    spacelike_starts,
)

# torch.profiler range around one level's routing and pooling (`bitlab bench train` reads it).
ROUTING_RANGE = "bitswin.routing"


@dataclass
class LevelState:
    """What one level leaves on the way down for the way up (N items, `slots` units)."""

    residual: torch.Tensor  # [B, N, D] encoder output of the items
    valid: torch.Tensor  # bool [B, N]
    segment_ids: torch.Tensor | None  # long [B, N]
    routing: Routing
    index: UnitIndex


@dataclass
class Descent:
    x: torch.Tensor  # [B, M, D] innermost stage's input (or its output after `run_inner`)
    valid: torch.Tensor  # bool [B, M]
    segment_ids: torch.Tensor | None
    levels: list[LevelState] = field(default_factory=list)
    maps: dict[int, list[tuple[torch.Tensor, int]]] = field(default_factory=dict)  # per stage
    outputs: dict[int, torch.Tensor] = field(default_factory=dict)  # per stage, its last block


def _stage(c: BitSwinConfig, i: int, depth: int, parity: int) -> SwinStage:
    return SwinStage(
        c.widths[i],
        depth,
        c.heads[i],
        c.windows[i],
        c.mlp_ratio,
        c.dropout,
        c.attn_dropout,
        c.layer_norm_eps,
        c.bias_init,
        parity=parity,
    )


class Hierarchy(nn.Module):
    def __init__(self, config: BitSwinConfig) -> None:
        super().__init__()
        c = self.config = config
        last = c.num_stages - 1
        self.encoders = nn.ModuleList(_stage(c, i, c.split(i)[0], 0) for i in range(1, last + 1))
        self.decoders = nn.ModuleList(
            _stage(c, i, c.split(i)[1], c.split(i)[0]) for i in range(1, last)
        )
        learned = c.router == "learned"
        self.routers = nn.ModuleList(
            CosineRouter(c.widths[i]) if learned else nn.Identity() for i in range(1, last)
        )
        eps = c.layer_norm_eps
        self.pools = nn.ModuleList(
            UnitPool(c.widths[i], c.widths[i + 1], eps) for i in range(1, last)
        )
        self.ups = nn.ModuleList(UnitUpsample(c.widths[i + 1], c.widths[i]) for i in range(1, last))

    def _route(
        self,
        level: int,
        h: torch.Tensor,
        valid: torch.Tensor,
        segment_ids: torch.Tensor | None,
        hidden: torch.Tensor,
        touched: torch.Tensor,
        view: ByteView | None,
    ) -> Routing:
        c = self.config
        if c.router == "none":  # every item is a unit
            n = valid.shape[1]
            zero = torch.zeros_like(valid)
            forced = segment_starts(valid, segment_ids)
            return Routing(valid.float(), zero, valid, forced, zero, valid, None, n, 1.0)
        never = view.continuation if view is not None else None
        prob = self.routers[level](h) if c.router == "learned" else None
        rule = None
        if c.router == "spacelike" and view is not None:
            rule = spacelike_starts(view.value, view.shown)
        return route(c, level, prob, rule, valid, segment_ids, hidden, never, touched)

    def descend(
        self,
        x: torch.Tensor,
        view: ByteView,
        segment_ids: torch.Tensor | None,
        return_attention: bool = False,
        units_only: bool = False,
    ) -> Descent:
        """x: byte tokens [B, L, D]. `units_only` stops after the last router (the units of
        the input without the innermost stage, the decoders or the heads)."""
        valid, seg, hidden = view.valid, segment_ids, view.hidden
        touched = valid & ~view.shown  # items with any hidden (or replaced-away) bit
        d = Descent(x, valid, seg)
        for level, encoder in enumerate(self.encoders):
            innermost = level == len(self.encoders) - 1
            if innermost and units_only:
                break
            x, maps = encoder(x, valid, seg, return_attention)
            d.maps[level + 1] = maps
            if innermost:
                break
            with record_function(ROUTING_RANGE):
                routing = self._route(
                    level, x, valid, seg, hidden, touched, view if level == 0 else None
                )
                index = unit_index(routing.starts, valid, routing.slots)
                d.levels.append(LevelState(x, valid, seg, routing, index))
                if units_only and level == len(self.encoders) - 2:
                    break
                x = self.pools[level](x, index)
                # A unit is hidden when all its items are; its document is its first item's.
                hidden = (unit_sums(hidden.long(), index) == index.count) & index.valid
                touched = (unit_sums(touched.long(), index) > 0) & index.valid
                seg = None if seg is None else torch.gather(seg, 1, index.first)
                valid = index.valid
        d.x, d.valid, d.segment_ids = x, valid, seg
        d.outputs[len(d.levels) + 1] = x
        return d

    def ascend(self, d: Descent, return_attention: bool = False) -> torch.Tensor:
        """Innermost output -> byte representation [B, L, D_byte]."""
        x = d.x
        for level in range(len(d.levels) - 1, -1, -1):
            state = d.levels[level]
            x = self.ups[level](x, state.residual, state.index, state.routing.ste)
            x, maps = self.decoders[level](x, state.valid, state.segment_ids, return_attention)
            d.maps[level + 1] = d.maps.get(level + 1, []) + maps
            d.outputs[level + 1] = x
        return x


def byte_level_starts(levels: list[LevelState]) -> list[torch.Tensor]:
    """Per level, bool [B, L]: the bytes that start a unit of that level (a phrase unit starts
    at the first byte of its first word unit)."""
    out: list[torch.Tensor] = []
    for level, state in enumerate(levels):
        starts = state.routing.starts
        for lower in reversed(levels[:level]):
            padded = torch.cat([starts, torch.zeros_like(starts[:, :1])], dim=1)  # scratch slot
            starts = torch.gather(padded, 1, lower.index.unit_of) & lower.routing.starts
        out.append(starts)
    return out
