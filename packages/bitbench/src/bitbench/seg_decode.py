"""Decoders: from one boundary score per atom (``seg_rules``) to word starts.

Every decoder reads the same calibrated gap score g_k = (s_k - c) / sigma, where s_k is the
model's score for a word starting at atom k, sigma its spread over the gaps the model decides
(non-forced atoms) and c the centre: given (``threshold``), or searched so that the mean word
length over all lines is the target (``target_unit_bytes``, BLT-style: the run's own unit
length unless given). Forced starts (``Atoms.forced``) are starts in every decoder.

- ``threshold``: a start wherever g_k > 0 (one global threshold, today's rule);
- ``peaks``: a start where g_k > 0 and g_k is a local maximum (>= both neighbours), so that
  a boundary needs the score to rise and fall around it;
- ``dp`` (default): the segmentation maximising  sum over its words of  g_start +
  weight * log prior(length),  words at most ``max_word_atoms`` atoms long, by a semi-Markov
  Viterbi pass (forced starts cannot be inside a word). The prior is a shifted Poisson over
  lengths 1..K with mean ``prior_mean_atoms``; with weight 0 and no length bound it is exactly
  ``threshold``. The mean only adds the same amount per word (log Poisson(k - 1) = (k - 1) log
  lambda - lambda - log (k - 1)!, and the (k - 1) terms sum to atoms - words), so when the
  centre is searched for a target length it is absorbed by the centre: what shapes the words is
  the -log (k - 1)! term (0, 0, -0.69, -1.79 for 1..4 atoms) times the weight.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from bitbench.errors import BitbenchError

DECODERS = ("dp", "peaks", "threshold")


@dataclass(frozen=True)
class DecodeOptions:
    """How scores become words (recorded in metrics.json; ``bitlab segment`` takes the same)."""

    method: str = "dp"
    max_word_atoms: int = 4  # dp: longest word, in atoms (a Han character or a digit run)
    prior_weight: float = (
        2.0  # dp: weight of the log length prior (0 = none; 2 tuned on PKU train lines)
    )
    prior_mean_atoms: float = 1.6  # dp: mean of the shifted-Poisson length prior
    threshold: float | None = None  # the centre c; None = search it for the target length
    target_unit_bytes: float | None = None  # None = the run's target_unit_bytes

    def __post_init__(self) -> None:
        if self.method not in DECODERS:
            raise BitbenchError(
                f"unknown decoder '{self.method}': use one of {', '.join(DECODERS)}"
            )
        if self.max_word_atoms < 1:
            raise BitbenchError(f"max_word_atoms is {self.max_word_atoms}: use >= 1")
        if self.prior_weight < 0:
            raise BitbenchError(f"prior_weight is {self.prior_weight}: use >= 0")
        if self.prior_mean_atoms < 1:
            raise BitbenchError(f"prior_mean_atoms is {self.prior_mean_atoms}: use >= 1")
        if self.target_unit_bytes is not None and self.target_unit_bytes < 1:
            raise BitbenchError(f"target_unit_bytes is {self.target_unit_bytes}: use >= 1")


def length_log_prior(max_len: int, mean: float) -> np.ndarray:
    """float64 [max_len + 1]: log of a shifted Poisson over word lengths 1..max_len (mean
    ``mean`` before truncation), renormalised; entry 0 (no word is empty) is -inf."""
    lam = mean - 1.0
    k = np.arange(max_len, dtype=np.float64)  # length - 1
    if lam > 0:
        logp = k * math.log(lam) - lam - np.array([math.lgamma(x + 1.0) for x in k])
    else:  # mean 1: every word one atom long
        logp = np.where(k == 0, 0.0, -np.inf)
    logp = logp - np.logaddexp.reduce(logp)
    return np.concatenate([[-np.inf], logp])


@numba.njit(cache=True)
def _viterbi_kernel(
    gap: np.ndarray,  # float64 [n]
    forced: np.ndarray,  # bool [n]
    log_prior: np.ndarray,  # float64 [K + 1]
    best: np.ndarray,  # float64 [n + 1] scratch
    back: np.ndarray,  # int64 [n + 1] scratch
    out: np.ndarray,  # bool [n] starts (written)
) -> None:
    n = gap.shape[0]
    k_max = log_prior.shape[0] - 1
    best[0] = 0.0
    for j in range(1, n + 1):
        best[j] = -np.inf
        back[j] = j - 1
        # words [i, j): no forced start strictly inside, i.e. forced[i+1..j-1] all False
        for length in range(1, k_max + 1):
            i = j - length
            if i < 0:
                break
            start = 0.0 if forced[i] else gap[i]
            value = best[i] + start + log_prior[length]
            if value > best[j]:
                best[j] = value
                back[j] = i
            if forced[i]:
                break  # a longer word would contain this forced start
    for k in range(n):
        out[k] = False
    j = n
    while j > 0:
        i = back[j]
        out[i] = True
        j = i


def viterbi_starts(gap: np.ndarray, forced: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """bool [n]: the starts of the best segmentation of a sequence of atoms (several lines may be
    concatenated: each line's first atom is forced). ``log_prior`` [K + 1] sets the longest word."""
    gap = np.ascontiguousarray(gap, dtype=np.float64)
    forced = np.ascontiguousarray(forced, dtype=np.bool_)
    if gap.shape != forced.shape or gap.ndim != 1:
        raise BitbenchError(f"gap {gap.shape} and forced {forced.shape} must be equal 1-D shapes")
    n = gap.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    if n:
        forced = forced.copy()
        forced[0] = True
        _viterbi_kernel(
            gap,
            forced,
            np.ascontiguousarray(log_prior, dtype=np.float64),
            np.empty(n + 1, dtype=np.float64),
            np.empty(n + 1, dtype=np.int64),
            out,
        )
    return out


def viterbi_reference(gap: np.ndarray, forced: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """Plain-Python reference of ``viterbi_starts`` (exhaustive over all segmentations; tests)."""
    n = len(gap)
    k_max = len(log_prior) - 1
    best_value, best_starts = -math.inf, None
    for mask in range(1 << max(0, n - 1)):
        starts = [True] + [bool(mask >> (k - 1) & 1) for k in range(1, n)]
        if any(forced[k] and not starts[k] for k in range(n)):
            continue
        cuts = [k for k in range(n) if starts[k]] + [n]
        lengths = [b - a for a, b in itertools.pairwise(cuts)]
        if max(lengths, default=0) > k_max:
            continue
        value = sum(gap[k] for k in cuts[1:-1] if not forced[k]) + sum(
            log_prior[length] for length in lengths
        )
        if value > best_value + 1e-12:
            best_value, best_starts = value, starts
    return np.asarray(best_starts if best_starts is not None else [True] * n, dtype=bool)


def peak_starts(gap: np.ndarray, forced: np.ndarray) -> np.ndarray:
    """Starts where the gap score is positive and a local maximum (>= both neighbours)."""
    gap = np.asarray(gap, dtype=np.float64)
    left = np.concatenate([[-np.inf], gap[:-1]])
    right = np.concatenate([gap[1:], [-np.inf]])
    # Neighbours across a forced start do not compete (they are in other stretches).
    f = np.asarray(forced, dtype=bool)
    left = np.where(f, -np.inf, left)
    right = np.where(np.concatenate([f[1:], [True]]), -np.inf, right)
    return f | ((gap > 0) & (gap >= left) & (gap >= right))


def decode_starts(gap: np.ndarray, forced: np.ndarray, options: DecodeOptions) -> np.ndarray:
    """Starts of calibrated gap scores under ``options.method``."""
    forced = np.asarray(forced, dtype=bool)
    if options.method == "threshold":
        return forced | (np.asarray(gap) > 0)
    if options.method == "peaks":
        return peak_starts(gap, forced)
    prior = length_log_prior(options.max_word_atoms, options.prior_mean_atoms)
    weighted = np.full_like(prior, -1e30)  # impossible lengths stay impossible at any weight
    finite = np.isfinite(prior)
    weighted[finite] = options.prior_weight * prior[finite]
    return viterbi_starts(gap, forced, weighted)


@dataclass(frozen=True)
class Decoded:
    """Starts per line and the calibration that produced them."""

    starts: list[np.ndarray]  # bool [atoms of the line]
    centre: float
    spread: float


def decode_lines(
    scores: Sequence[np.ndarray],
    forced: Sequence[np.ndarray],
    atom_bytes: Sequence[np.ndarray],
    options: DecodeOptions,
    target_unit_bytes: float,
) -> Decoded:
    """Word starts for many lines at once: ``scores`` / ``forced`` / ``atom_bytes`` hold one
    array per line (per atom: the model's start score, forced start, bytes it covers counting
    whitespace atoms as 0). The centre is ``options.threshold`` or searched (bisection) so that
    bytes / words over all lines equals ``target_unit_bytes``."""
    lengths = [len(s) for s in scores]
    if not lengths or sum(lengths) == 0:
        return Decoded([np.zeros(n, dtype=bool) for n in lengths], 0.0, 1.0)
    s = np.concatenate([np.asarray(x, dtype=np.float64) for x in scores])
    f = np.concatenate([np.asarray(x, dtype=bool) for x in forced])
    w = np.concatenate([np.asarray(x, dtype=np.float64) for x in atom_bytes])
    offsets = np.cumsum([0, *lengths])
    f[offsets[:-1][np.asarray(lengths) > 0]] = True  # every line starts a word
    free = ~f & np.isfinite(s)
    spread = float(np.std(s[free])) if free.any() else 1.0
    spread = spread if spread > 1e-12 else 1.0
    s = np.where(np.isfinite(s), s, -1e30)

    def run(centre: float) -> np.ndarray:
        return decode_starts((s - centre) / spread, f, options)

    if options.threshold is not None:
        centre = float(options.threshold)
    else:
        centre = _search_centre(run, s[free], f, w, target_unit_bytes)
    starts = run(centre)
    return Decoded([starts[a:b] for a, b in itertools.pairwise(offsets)], centre, spread)


def mean_word_bytes(starts: np.ndarray, weights: np.ndarray) -> float:
    """Bytes per word: whitespace atoms (weight 0) neither count as bytes nor start words."""
    words = int(np.count_nonzero(starts & (weights > 0)))
    return float(weights.sum() / max(1, words))


def _search_centre(
    run, free_scores: np.ndarray, forced: np.ndarray, weights: np.ndarray, target: float
) -> float:
    """Bisection on the centre: higher centre -> fewer starts -> longer words."""
    if target < 1:
        raise BitbenchError(f"target unit length {target} is below one byte: pass >= 1")
    if free_scores.size == 0:
        return 0.0
    lo, hi = float(free_scores.min()) - 1.0, float(free_scores.max()) + 1.0
    for _ in range(40):
        mid = (lo + hi) / 2.0
        if mean_word_bytes(run(mid), weights) < target:
            lo = mid  # words too short: raise the centre
        else:
            hi = mid
        if hi - lo < 1e-6 * max(1.0, abs(hi)):
            break
    return hi  # the side where words are not shorter than the target
