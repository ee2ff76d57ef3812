"""A slow, loop-based NumPy / pure-Python reference of make_masks (same semantics, same RNG).

Written to be obviously right: the hash is splitmix64 on Python ints (masked to 64 bits), units
come from bitcodec's Numba facts (run on each stretch of valid bytes), and every mask is built
with explicit loops over samples, positions, units and spans. The tests require the vectorised
torch version to equal this exactly.
"""

from __future__ import annotations

import numpy as np
from bitcodec import facts
from bitmask.levels import phrase_start_probability, span_length_thresholds
from bittokens import MASK_ID, PAD_ID

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
STREAM = {
    "bit": 1,
    "byte": 2,
    "word": 3,
    "phrase_start": 4,
    "phrase_length": 5,
    "bert_choice": 6,
    "bert_random": 7,
    "replace_select": 8,
    "replace_value": 9,
    "level": 10,
    "phrase_unit": 11,
}
IGNORE = -100


def mix(z: int) -> int:
    z &= M64
    z = ((z ^ (z >> 30)) * MIX1) & M64
    z = ((z ^ (z >> 27)) * MIX2) & M64
    return z ^ (z >> 31)


def time_code(epoch, step) -> int:
    if step is not None:
        return (int(step) << 1) | 1
    if epoch is not None:
        return round(float(epoch) * 1024) << 1
    return 0


def sample_key(seed: int, time: int, index: int) -> int:
    base = mix(mix(seed * GOLDEN + 1) ^ ((time * MIX2) & M64))
    return mix(index * GOLDEN + base)


def draw64(key: int, stream: str, counter: int) -> int:
    skey = mix(key ^ mix(STREAM[stream] * GOLDEN))
    return mix(skey + int(counter) * GOLDEN)


def u24(key: int, stream: str, counter: int) -> int:
    return draw64(key, stream, counter) >> 40


def thr(p: float) -> int:
    return round(min(max(p, 0.0), 1.0) * (1 << 24))


def bit_draw(key: int, bit_index: int) -> int:
    """16-bit draw of bit ``bit_index`` of the row (4 draws per 64-bit hash, high bits first)."""
    h = draw64(key, "bit", bit_index // 4)
    return (h >> (48 - 16 * (bit_index % 4))) & 0xFFFF


def unit_starts(row: np.ndarray, valid: np.ndarray, boundaries, target: float) -> np.ndarray:
    """Unit starts of one row (bool [L])."""
    n = len(row)
    starts = np.zeros(n, dtype=bool)
    if isinstance(boundaries, str):
        fn = facts.word_starts if boundaries == "whitespace" else facts.class_change_starts
        j = 0
        while j < n:  # bitcodec facts on each stretch of valid bytes (padding breaks rows)
            if not valid[j]:
                j += 1
                continue
            k = j
            while k < n and valid[k]:
                k += 1
            starts[j:k] = fn(row[j:k].astype(np.uint8))
            j = k
    elif np.asarray(boundaries).dtype == bool:
        starts = np.asarray(boundaries, dtype=bool).copy()
    else:
        scores = np.asarray(boundaries, dtype=np.float32)
        positions = [j for j in range(n) if valid[j]]
        wanted = min(max(round(len(positions) / target), 1), len(positions))
        ranked = sorted(positions, key=lambda j: (-scores[j], j))  # ties: earlier first
        for j in ranked[:wanted]:
            starts[j] = True
    for j in range(n):
        if valid[j] and (j == 0 or not valid[j - 1]):
            starts[j] = True
    return starts & valid


def char_classes_of(row: np.ndarray, valid: np.ndarray) -> np.ndarray:
    out = np.full(len(row), IGNORE, dtype=np.int64)
    roles = np.full(len(row), IGNORE, dtype=np.int64)
    j, n = 0, len(row)
    while j < n:
        if not valid[j]:
            j += 1
            continue
        k = j
        while k < n and valid[k]:
            k += 1
        out[j:k] = facts.char_classes(row[j:k].astype(np.uint8))
        roles[j:k] = facts.utf8_roles(row[j:k].astype(np.uint8))
        j = k
    return out, roles


def reference_masks(
    data: np.ndarray,
    rates: dict[str, float],
    *,
    seed: int = 0,
    epoch=None,
    step=None,
    sample_index=None,
    pad=None,
    boundaries="whitespace",
    target_unit_bytes: float = 5.0,
    span_p: float = 0.2,
    span_cap: int = 10,
    mask_space_units: bool = False,
    corruption=None,
    replacement_logits=None,
    phrase_boundaries=None,
    mixture: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """`mixture`: level -> weight (None: levels stacked); `phrase_boundaries`: bool [B, L]."""
    data = np.asarray(data, dtype=np.int64)
    batch, length = data.shape
    pad = np.zeros((batch, length), bool) if pad is None else np.asarray(pad, bool)
    index = list(range(batch)) if sample_index is None else [int(i) for i in sample_index]
    time = time_code(epoch, step)
    out = {
        name: np.zeros((batch, length), bool)
        for name in ("mask_byte", "mask_word", "mask_phrase", "unit_start", "replaced")
    }
    out["mask_bit"] = np.zeros((batch, 8 * length), bool)
    out["hidden_bits"] = np.zeros((batch, 8 * length), bool)
    out["hidden_bytes"] = np.zeros((batch, length), bool)
    out["input_ids"] = np.zeros((batch, 8 * length), np.int64)
    out["bit_targets"] = np.zeros((batch, 8 * length), np.int64)
    out["char_class"] = np.zeros((batch, length), np.int64)
    out["utf8_role"] = np.zeros((batch, length), np.int64)
    out["unit_id"] = np.full((batch, length), -1, np.int64)
    out["window_level"] = np.full(batch, -1, np.int64)

    # Whole-batch byte histogram, for replace_source="batch".
    batch_counts = np.zeros(256, np.int64)
    for b in range(batch):
        for j in range(length):
            if not pad[b, j]:
                batch_counts[data[b, j]] += 1

    for b in range(batch):
        row, valid = data[b], ~pad[b]
        key = sample_key(seed, time, index[b])
        classes, roles = char_classes_of(row, valid)
        out["char_class"][b], out["utf8_role"][b] = classes, roles
        bnd = boundaries if isinstance(boundaries, str) else np.asarray(boundaries)[b]
        starts = unit_starts(row, valid, bnd, target_unit_bytes)
        out["unit_start"][b] = starts
        # units: list of byte position lists
        units: list[list[int]] = []
        for j in range(length):
            if not valid[j]:
                continue
            if starts[j]:
                units.append([])
            units[-1].append(j)
            out["unit_id"][b, j] = len(units) - 1

        # bit level
        t16 = round(min(max(rates.get("bit", 0.0), 0.0), 1.0) * 65536)
        if rates.get("bit", 0.0) > 0:
            for j in range(length):
                for k in range(8):
                    if valid[j] and bit_draw(key, 8 * j + k) < t16:
                        out["mask_bit"][b, 8 * j + k] = True
        # byte level
        if rates.get("byte", 0.0) > 0:
            for j in range(length):
                if valid[j] and u24(key, "byte", j) < thr(rates["byte"]):
                    out["mask_byte"][b, j] = True
        # word level
        if rates.get("word", 0.0) > 0:
            for u, positions in enumerate(units):
                maskable = mask_space_units or any(classes[j] != 3 for j in positions)
                if maskable and u24(key, "word", u) < thr(rates["word"]):
                    for j in positions:
                        out["mask_word"][b, j] = True
        # phrase level, given phrase units: whole phrase units
        if rates.get("phrase", 0.0) > 0 and phrase_boundaries is not None:
            pstarts = unit_starts(row, valid, np.asarray(phrase_boundaries)[b], target_unit_bytes)
            punits: list[list[int]] = []
            for j in range(length):
                if valid[j]:
                    if pstarts[j]:
                        punits.append([])
                    punits[-1].append(j)
            for u, positions in enumerate(punits):
                maskable = mask_space_units or any(classes[j] != 3 for j in positions)
                if maskable and u24(key, "phrase_unit", u) < thr(rates["phrase"]):
                    for j in positions:
                        out["mask_phrase"][b, j] = True
        # phrase level: span starts at unit positions -(cap-1) .. n_units-1
        elif rates.get("phrase", 0.0) > 0:
            q = phrase_start_probability(float(rates["phrase"]), float(span_p), int(span_cap))
            cuts = span_length_thresholds(float(span_p), int(span_cap))
            covered = [False] * len(units)
            for s in range(-(span_cap - 1), len(units)):
                counter = s + (1 << 20)
                if u24(key, "phrase_start", counter) < thr(q):
                    d = u24(key, "phrase_length", counter)
                    span = 1 + sum(1 for c in cuts if d >= c)
                    for u in range(s, s + span):
                        if 0 <= u < len(units):
                            covered[u] = True
            for u, positions in enumerate(units):
                if covered[u]:
                    for j in positions:
                        out["mask_phrase"][b, j] = True

        # level mixture: one active level per window, by a 24-bit draw on cumulative weights
        active = [lv for lv in ("bit", "byte", "word", "phrase") if rates.get(lv, 0.0) > 0]
        if mixture is not None and len(active) >= 2:
            weights = [max(0.0, mixture[lv]) for lv in active]
            if sum(weights) <= 0:
                weights = [1.0] * len(active)
            d = u24(key, "level", 0)
            cum, low, chosen = 0.0, 0, None
            for lv, w in zip(active, weights, strict=True):
                cum += w
                high = (1 << 24) if lv == active[-1] else round(cum / sum(weights) * (1 << 24))
                if low <= d < high:
                    chosen = lv
                low = high
            out["window_level"][b] = ("bit", "byte", "word", "phrase").index(chosen)
            for lv in ("byte", "word", "phrase"):
                if lv != chosen:
                    out[f"mask_{lv}"][b] = False
            if chosen != "bit":
                out["mask_bit"][b] = False

        selected = out["mask_byte"][b] | out["mask_word"][b] | out["mask_phrase"][b]
        shown = row.copy()
        as_mask = selected.copy()
        if corruption is not None and corruption.bert:
            for j in range(length):
                if not selected[j]:
                    continue
                c = u24(key, "bert_choice", j)
                if c < thr(corruption.bert_mask):
                    continue
                as_mask[j] = False
                if c < thr(corruption.bert_mask + corruption.bert_random):
                    shown[j] = u24(key, "bert_random", j) >> 16
        if corruption is not None and corruption.replace_rate > 0:
            if corruption.replace_source == "row":
                counts = np.zeros(256, np.int64)
                for j in range(length):
                    if valid[j]:
                        counts[row[j]] += 1
            elif corruption.replace_source == "batch":
                counts = batch_counts
            for j in range(length):
                if not valid[j] or selected[j]:
                    continue
                if corruption.replace_unit == "byte":
                    pick = u24(key, "replace_select", j) < thr(corruption.replace_rate)
                else:
                    u = int(out["unit_id"][b, j])
                    pick = u24(key, "replace_select", u) < thr(corruption.replace_rate)
                if not pick:
                    continue
                d = u24(key, "replace_value", j)
                if corruption.replace_source == "predictions":
                    logits = np.asarray(replacement_logits[b, j], np.float64)
                    probs = np.exp(logits - logits.max())
                    probs /= probs.sum()
                    u = (d + 0.5) / (1 << 24)
                    shown[j] = min(int(np.searchsorted(np.cumsum(probs), u)), 255)
                else:
                    target = (d * int(counts.sum())) >> 24
                    running = 0
                    for value in range(256):  # first value whose cumulative count passes target
                        running += counts[value]
                        if running > target:
                            shown[j] = value
                            break

        for j in range(length):
            differs = False
            for k in range(8):
                i = 8 * j + k
                true_bit = (row[j] >> (7 - k)) & 1
                shown_bit = (shown[j] >> (7 - k)) & 1
                out["bit_targets"][b, i] = true_bit
                hidden = valid[j] and (out["mask_bit"][b, i] or as_mask[j])
                out["hidden_bits"][b, i] = hidden
                if not valid[j]:
                    out["input_ids"][b, i] = PAD_ID
                elif hidden:
                    out["input_ids"][b, i] = MASK_ID
                else:
                    out["input_ids"][b, i] = shown_bit
                    differs = differs or shown_bit != true_bit
            out["replaced"][b, j] = valid[j] and differs
        out["hidden_bytes"][b] = as_mask & valid
    return out
