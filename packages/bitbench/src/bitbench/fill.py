"""Fill hidden bytes with the model's byte head (``bitlab fill``): masked-LM generation.

Every hole character of the text becomes one fully masked byte. With ``steps=1`` all holes are
decided from one forward pass; with ``steps=N`` the holes are filled in N rounds, each round
committing the most confident ones (``ceil(remaining / rounds left)`` of them) and running the
model again with those bytes shown. Within a round, holes are committed one at a time, most
confident first, and each choice is restricted to the bytes that keep the whole text valid UTF-8
given everything decided so far (a forward/backward pass over the UTF-8 automaton, with unknown
bytes as wildcards). When no byte can make it valid (the text is already invalid elsewhere), the
restriction is dropped for that hole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from bittrain.engine.contracts import FillsBytes

from bitbench.errors import BitbenchError

# Byte types of the UTF-8 automaton; the state is the number of continuation bytes still owed.
ASCII, CONT, LEAD2, LEAD3, LEAD4, INVALID = range(6)
_NUM_STATES = 4


def byte_types() -> np.ndarray:
    """int8 [256]: the UTF-8 type of each byte value (C0, C1, F5..FF are INVALID)."""
    t = np.full(256, INVALID, dtype=np.int8)
    t[0x00:0x80] = ASCII
    t[0x80:0xC0] = CONT
    t[0xC2:0xE0] = LEAD2
    t[0xE0:0xF0] = LEAD3
    t[0xF0:0xF5] = LEAD4
    return t


BYTE_TYPES = byte_types()


def _step(states: int, kind: int) -> int:
    """States (bit set over 0..3) after reading one byte of ``kind`` from any of ``states``."""
    out = 0
    for s in range(_NUM_STATES):
        if not states >> s & 1:
            continue
        if kind == ASCII and s == 0:
            out |= 1
        elif kind == CONT and s > 0:
            out |= 1 << (s - 1)
        elif kind in (LEAD2, LEAD3, LEAD4) and s == 0:
            out |= 1 << (kind - LEAD2 + 1)
    return out


def _back(next_states: int, kind: int) -> int:
    """States from which reading ``kind`` lands in ``next_states``."""
    return sum(1 << s for s in range(_NUM_STATES) if _step(1 << s, kind) & next_states)


_KINDS = (ASCII, CONT, LEAD2, LEAD3, LEAD4)


def feasible_types(data: np.ndarray, known: np.ndarray) -> np.ndarray:
    """bool [L, 5]: for each position, which byte types (ASCII, CONT, LEAD2..4) it can take so
    that some filling of the other unknown positions makes the whole sequence valid UTF-8."""
    n = len(data)
    kinds = [BYTE_TYPES[b] if k else -1 for b, k in zip(data.tolist(), known.tolist(), strict=True)]
    forward = [1] + [0] * n  # states before position i
    for i, kind in enumerate(kinds):
        options = _KINDS if kind < 0 else (kind,)
        forward[i + 1] = 0
        for k in options:
            forward[i + 1] |= _step(forward[i], k)
    backward = [0] * n + [1]  # states at position i that can finish the sequence
    for i in range(n - 1, -1, -1):
        options = _KINDS if kinds[i] < 0 else (kinds[i],)
        backward[i] = 0
        for k in options:
            backward[i] |= _back(backward[i + 1], k)
    out = np.zeros((n, len(_KINDS)), dtype=bool)
    for i in range(n):
        for j, k in enumerate(_KINDS):
            out[i, j] = bool(_step(forward[i], k) & backward[i + 1])
    return out


def allowed_bytes(types_ok: np.ndarray) -> np.ndarray:
    """bool [256] from one row of ``feasible_types``."""
    ok = np.zeros(256, dtype=bool)
    for j, k in enumerate(_KINDS):
        if types_ok[j]:
            ok |= k == BYTE_TYPES
    return ok


@dataclass(frozen=True)
class FillResult:
    text: str  # decoded (invalid UTF-8 shown as U+FFFD)
    data: bytes  # the filled bytes
    filled: list[tuple[int, int, float]]  # (byte position, byte, probability), in commit order
    rounds: int


def holes_to_bytes(text: str, hole: str) -> tuple[np.ndarray, np.ndarray]:
    """Text with hole characters -> (bytes uint8 [L] with 0 at holes, hidden bool [L]); each hole
    character stands for exactly one byte."""
    if len(hole) != 1:
        raise BitbenchError(f"hole {hole!r} must be one character: e.g. --hole _")
    parts: list[bytes] = []
    hidden: list[bool] = []
    for ch in text:
        if ch == hole:
            parts.append(b"\x00")
            hidden.append(True)
        else:
            encoded = ch.encode("utf-8", errors="surrogatepass")
            parts.append(encoded)
            hidden.extend([False] * len(encoded))
    data = np.frombuffer(b"".join(parts), dtype=np.uint8).copy()
    return data, np.array(hidden, dtype=bool)


def commit_round(
    data: np.ndarray, hidden: np.ndarray, probs: np.ndarray, quota: int
) -> list[tuple[int, int, float]]:
    """Commit ``quota`` of the ``hidden`` bytes of ``data`` (both changed in place) from one
    forward's byte probabilities ``probs`` [L, 256]: one at a time, most confident first, each
    restricted to the bytes that keep the text valid UTF-8 given everything decided so far (the
    restriction dropped for a hole no byte can satisfy). Returns (position, byte, probability)
    in commit order."""
    filled: list[tuple[int, int, float]] = []
    for _ in range(min(quota, int(hidden.sum()))):
        feasible = feasible_types(data, ~hidden)
        best: tuple[float, int, int] | None = None
        for pos in np.flatnonzero(hidden).tolist():
            p = probs[pos].copy()
            ok = allowed_bytes(feasible[pos])
            if ok.any():
                p[~ok] = 0.0
            b = int(p.argmax())
            if best is None or p[b] > best[0]:
                best = (float(p[b]), pos, b)
        assert best is not None  # at least one hole remains
        prob, pos, b = best
        data[pos] = b
        hidden[pos] = False
        filled.append((pos, b, prob))
    return filled


def fill_text(model: Any, text: str, *, hole: str = "_", steps: int = 1) -> FillResult:
    """Fill every ``hole`` of ``text`` with the model's most probable bytes (see module doc)."""
    if not isinstance(model, FillsBytes):
        raise BitbenchError(
            f"a {model.kind} model cannot fill bytes: fill needs a byte-level run (bitswin, byte)"
        )
    if steps < 1:
        raise BitbenchError(f"--steps is {steps}: use 1 (all at once) or more rounds")
    data, hidden = holes_to_bytes(text, hole)
    if not hidden.any():
        raise BitbenchError(f"the text has no hole character {hole!r}: mark bytes to fill with it")
    filled: list[tuple[int, int, float]] = []
    rounds = min(steps, int(hidden.sum()))
    for r in range(rounds):
        quota = math.ceil(int(hidden.sum()) / (rounds - r))
        probs = np.exp(model.byte_log_probs(data, hidden))  # [L, 256]
        filled += commit_round(data, hidden, probs, quota)
    out = data.tobytes()
    return FillResult(out.decode("utf-8", errors="replace"), out, filled, rounds)
