"""Consistency score (seed 4.3, DESIGN.md "Metrics"): do occurrences of the same unit get closer
representations than occurrences of different units?

Each unit occurrence is the mean of its bytes' vectors (``pool_units``). Over pairs of
occurrences, the cosine similarity of same-unit pairs (positives: the same bytes in different
contexts) is compared with that of different-unit pairs (negatives) by the area under the ROC
curve, computed with the rank-sum (Mann-Whitney) formula with average ranks for ties:
AUC = P(sim_same > sim_diff) + 0.5 P(tie). Vectors are centred first (the mean occurrence
vector is subtracted), so a direction every vector shares does not make all pairs look alike.

What a good value is: the AUC alone says little. Identical byte strings pool to nearly identical
vectors even in an *untrained* model, which therefore already scores close to 1 (measured: see
bitbench's README). Read it against its control, the same configuration with fresh weights
(``consistency_auc_control`` in the eval JSON): a model is consistent beyond its input bytes
only by the margin it keeps above that control; at or below the control, training added nothing
the bytes did not already give.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bitbench.errors import BitbenchError


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` with tied values sharing their average rank."""
    values = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    ranks = np.empty(values.size, dtype=np.float64)
    # Groups of equal values: each gets the mean of the ranks it spans.
    new_group = np.empty(values.size, dtype=bool)
    if values.size:
        new_group[0] = True
        new_group[1:] = sorted_vals[1:] != sorted_vals[:-1]
    group_id = np.cumsum(new_group) - 1
    first = np.flatnonzero(new_group)
    last = np.append(first[1:], values.size) - 1
    mean_rank = (first + last) / 2.0 + 1.0
    ranks[order] = mean_rank[group_id]
    return ranks


def rank_sum_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """AUC of scores where ``positive`` should be high: (R_pos - n_pos(n_pos+1)/2) / (n_pos n_neg)."""
    positive = np.asarray(positive, dtype=np.float64).ravel()
    negative = np.asarray(negative, dtype=np.float64).ravel()
    if positive.size == 0 or negative.size == 0:
        raise BitbenchError(
            "AUC needs at least one positive and one negative pair: evaluate on more text (units "
            "must repeat, and at least two distinct units must occur)"
        )
    ranks = average_ranks(np.concatenate([positive, negative]))
    n_pos, n_neg = positive.size, negative.size
    rank_sum = ranks[:n_pos].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def pool_units(hidden: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Mean of ``hidden`` [L, D] over each [start, end) span -> [len(spans), D]."""
    hidden = np.asarray(hidden, dtype=np.float64)
    if not spans:
        return np.zeros((0, hidden.shape[-1]))
    csum = np.concatenate([np.zeros((1, hidden.shape[1])), np.cumsum(hidden, axis=0)])  # [L+1, D]
    starts = np.array([s for s, _ in spans])
    ends = np.array([e for _, e in spans])
    if np.any(ends <= starts):
        raise BitbenchError("a unit span is empty: spans must be [start, end) with end > start")
    return (csum[ends] - csum[starts]) / (ends - starts)[:, None]


def consistency_auc(
    vectors: np.ndarray,
    labels: Sequence[object],
    *,
    max_occurrences: int = 2000,
    rng: np.random.Generator | None = None,
    centre: bool = True,
) -> float:
    """AUC of cosine similarity for same-label vs different-label pairs of unit vectors [N, D]
    (centred over the occurrences taking part unless ``centre=False``).

    Only labels occurring at least twice take part (a unit seen once has no positive pair). At
    most ``max_occurrences`` occurrences are kept (sampled with ``rng``) so that all pairs fit.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != len(labels):
        raise BitbenchError(
            f"vectors of shape {vectors.shape} do not match {len(labels)} labels: pass [N, D] "
            "vectors, one per label"
        )
    _, label_ids, counts = np.unique(
        np.array([repr(x) for x in labels]), return_inverse=True, return_counts=True
    )
    keep = np.flatnonzero(counts[label_ids] >= 2)
    if keep.size > max_occurrences:
        rng = rng if rng is not None else np.random.default_rng(0)
        keep = np.sort(rng.choice(keep, size=max_occurrences, replace=False))
    vecs, ids = vectors[keep], label_ids[keep]
    if centre and len(vecs):
        vecs = vecs - vecs.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    unit = vecs / np.where(norms > 0, norms, 1.0)
    sims = unit @ unit.T  # [K, K]
    upper = np.triu_indices(keep.size, k=1)
    same = ids[upper[0]] == ids[upper[1]]
    pair_sims = sims[upper]
    return rank_sum_auc(pair_sims[same], pair_sims[~same])
