"""Bounded-memory heavy hitters with exponential decay (a mergeable Misra-Gries summary).

Each level keeps at most `capacity` candidate patterns. A batch's patterns are first counted
exactly (they are few), then merged: counts of known keys add up, new keys join, and when more
than `capacity` keys remain the (capacity+1)-th largest count is subtracted from every count and
keys left at <= 0 are dropped (Agarwal et al. 2012, "Mergeable summaries"). A count therefore
underestimates the true decayed count by at most total_weight / (capacity + 1); anything with a
larger share of the stream is guaranteed to be held. Decay multiplies every count by
0.5 ** (elapsed_steps / half_life), so old behaviour of the model fades.

`exact` and `seen` (decayed) are what confidence is made of: of the occurrences of a pattern's
bytes in the data (`seen`), how many the model cut exactly as one unit of the level (`exact`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from enctable import patterns
from enctable.hashing import hash_spans


@dataclass
class HeavyHitters:
    capacity: int
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # sorted
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    exact: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    seen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    concat: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    @property
    def nbytes(self) -> int:
        arrays = (self.keys, self.counts, self.exact, self.seen, self.concat, self.offsets)
        return int(sum(a.nbytes for a in arrays))

    def decay(self, factor: float) -> None:
        if factor != 1.0:
            self.counts *= factor
            self.exact *= factor
            self.seen *= factor

    def confidence(self) -> np.ndarray:
        seen = np.maximum(self.seen, self.exact)
        return np.divide(self.exact, seen, out=np.zeros_like(seen), where=seen > 0)

    def merge(self, batch: BatchCounts) -> None:
        """Add a batch's exact counts, then cut back to capacity (see module docstring)."""
        if batch.keys.shape[0] == 0:
            return
        n = len(self)
        pos = np.searchsorted(self.keys, batch.keys)
        found = pos < n
        found[found] = self.keys[pos[found]] == batch.keys[found]
        np.add.at(self.counts, pos[found], batch.weights[found])
        new = np.flatnonzero(~found)
        keys = np.concatenate([self.keys, batch.keys[new]])
        counts = np.concatenate([self.counts, batch.weights[new]])
        exact = np.concatenate([self.exact, np.zeros(new.shape[0])])
        seen = np.concatenate([self.seen, np.zeros(new.shape[0])])
        pats = patterns.join(
            (self.concat, self.offsets), patterns.subset(batch.concat, batch.offsets, new)
        )
        keep = np.arange(keys.shape[0])
        if keys.shape[0] > self.capacity:
            threshold = np.partition(counts, counts.shape[0] - self.capacity - 1)[
                counts.shape[0] - self.capacity - 1
            ]  # the (capacity+1)-th largest count
            counts = counts - threshold
            keep = np.flatnonzero(counts > 0)
        keep = keep[np.argsort(keys[keep], kind="stable")]
        self.keys = keys[keep]
        self.counts = counts[keep]
        self.exact = exact[keep]
        self.seen = seen[keep]
        self.concat, self.offsets = patterns.subset(pats[0], pats[1], keep)


@dataclass(frozen=True)
class BatchCounts:
    """Exact weighted counts of one batch's candidate spans, one row per distinct pattern."""

    keys: np.ndarray  # uint64[n], sorted, distinct
    weights: np.ndarray  # float64[n]
    concat: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_spans(
        cls, flat: np.ndarray, starts: np.ndarray, ends: np.ndarray, weights: np.ndarray
    ) -> BatchCounts:
        hashes = np.empty(starts.shape[0], np.uint64)
        hash_spans(flat, starts, ends, hashes)
        keys, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        summed = np.bincount(inverse, weights=weights, minlength=keys.shape[0])
        concat, offsets = patterns.gather(flat, starts[first], ends[first])
        return cls(keys, summed.astype(np.float64), concat, offsets)
