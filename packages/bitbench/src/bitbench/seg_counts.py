"""Word-start scores counted from raw text (``--signal counts``): no model, the same rules and
decoder as the model signals, so that every model number stands next to what counting does.

The counted text is read as the decoder's atoms (``seg_rules``), each a symbol: a Han character
or a punctuation run is itself, a digit run is one symbol ``<num>`` and a run of other letters
``<latin>`` (as the segmental-LM papers map them); each line is framed by ``order`` boundary
symbols (line ends and whitespace), so no n-gram crosses a line. For the gap before atom k of a
line (a = x_{k-1}, b = x_k; c() counts over the counted text, N its symbols):

- ``pmi``: -log(c(ab) N / (c(a) c(b))): neighbours seen together more than chance are inside a
  word;
- ``frequency``: -log c(ab): frequent pairs are words;
- ``entropy``: for n = 1..``order`` the branching entropy of the n-gram ending at a (over the
  symbols that follow it) and of the n-gram starting at b (over those before it): many
  different neighbours mean a word ends / starts there (Tanaka-Ishii 2005);
- ``variation``: how much the entropy rises when the n-gram grows by one symbol towards the gap,
  H_R(x_{k-2} x_{k-1}) - H_R(x_{k-2}) and H_L(x_k x_{k+1}) - H_L(x_{k+1}) (Jin and Tanaka-Ishii
  2006).

Each term is standardised over the counted text's gaps (zero mean, unit variance, so the signal
of a line does not depend on what else is segmented with it) and the signal is the weighted sum
(``CountConfig``; the weights and ``COUNT_UNIT_BYTES`` were chosen on the 1,000 PKU training
lines, README). A pair never seen counts as half an occurrence; an unseen n-gram's entropy is
the mean (0 after standardising).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from bitcodec import open_corpus
from bittrain.fileio import read_text

from bitbench.errors import BitbenchError
from bitbench.seg_rules import Atoms, Script, SegmentRules, line_atoms
from bitbench.segment import char_byte_offsets

log = logging.getLogger(__name__)

# symbol keys that are no code point (0..0x10FFFF)
BOUNDARY, NUMBER, LATIN, UNKNOWN = -1, -2, -3, -4
FIRST_LONG = 0x110000  # keys of atoms longer than one character (``atom_keys``)
COUNT_UNIT_BYTES = 4.7  # mean word length the centre is searched for (PKU training lines)
UNSEEN = 0.5  # the count of a pair or symbol never seen


@dataclass(frozen=True)
class CountConfig:
    """Which counts make the signal and their weights (each term standardised first)."""

    order: int = 3  # branching entropy of n-grams n = 1..order, on both sides of the gap
    pmi: float = 1.0
    frequency: float = 1.0
    entropy: float = 1.0  # each of the 2 x order entropy terms
    variation: float = 1.0  # each of the two variation terms

    def __post_init__(self) -> None:
        if not 1 <= self.order <= 8:
            raise BitbenchError(f"count order is {self.order}: use 1..8")
        for name in ("pmi", "frequency", "entropy", "variation"):
            if getattr(self, name) < 0:
                raise BitbenchError(f"count weight {name} is {getattr(self, name)}: use >= 0")

    def weights(self) -> dict[str, float]:
        """Weight per feature name (the keys of ``CountStats.features``)."""
        out = {"pmi": self.pmi, "frequency": self.frequency}
        for n in range(1, self.order + 1):
            out[f"entropy_right{n}"] = out[f"entropy_left{n}"] = self.entropy
        if self.order >= 2:
            out["variation_right"] = out["variation_left"] = self.variation
        return out


def atom_keys(atoms: Atoms, long_symbols: dict[str, int], grow: bool) -> np.ndarray:
    """int64 [atoms]: the symbol each atom is counted as: ``BOUNDARY`` (whitespace),
    ``NUMBER`` / ``LATIN`` (digit and letter runs), the code point of a one-character atom, and
    for a longer one (a run of one punctuation mark, a character with combining marks) a number
    from ``long_symbols`` (given there on first sight when ``grow``, else ``UNKNOWN``)."""
    m = len(atoms)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    cps = np.frombuffer(atoms.text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    keys = cps[atoms.bounds[:-1]].astype(np.int64)
    for k in np.flatnonzero(np.diff(atoms.bounds) > 1).tolist():  # few: no loop over all atoms
        text = atoms.text[atoms.bounds[k] : atoms.bounds[k + 1]]
        if grow:
            keys[k] = long_symbols.setdefault(text, FIRST_LONG + len(long_symbols))
        else:
            keys[k] = long_symbols.get(text, UNKNOWN)
    keys[atoms.script == Script.DIGIT] = NUMBER
    keys[atoms.script == Script.LETTER] = LATIN
    keys[atoms.dropped] = BOUNDARY
    return keys


@numba.njit(cache=True)
def _grouped_entropy_kernel(
    groups: np.ndarray,  # int64 [P] group of each distinct (group, neighbour) pair, sorted
    counts: np.ndarray,  # int64 [P] occurrences of each pair
    out: np.ndarray,  # float64 [G] entropy (nats) of each group's neighbours (written)
) -> None:
    out[:] = np.nan
    p = groups.shape[0]
    i = 0
    while i < p:
        g = groups[i]
        total = 0.0
        acc = 0.0
        while i < p and groups[i] == g:
            c = float(counts[i])
            total += c
            acc += c * math.log(c)
            i += 1
        out[g] = math.log(total) - acc / total


def grouped_entropy(groups: np.ndarray, neighbours: np.ndarray, n_groups: int) -> np.ndarray:
    """float64 [n_groups]: the entropy (nats) of the neighbours seen with each group (NaN for a
    group never seen). ``groups`` / ``neighbours``: int64 [P] >= 0, one pair per occurrence."""
    groups = np.asarray(groups, dtype=np.int64)
    neighbours = np.asarray(neighbours, dtype=np.int64)
    out = np.empty(n_groups, dtype=np.float64)
    if groups.size == 0:
        out[:] = np.nan
        return out
    width = int(neighbours.max()) + 1
    pairs, counts = np.unique(groups * width + neighbours, return_counts=True)
    _grouped_entropy_kernel(pairs // width, counts.astype(np.int64), out)
    return out


def grouped_entropy_reference(
    groups: np.ndarray, neighbours: np.ndarray, n_groups: int
) -> np.ndarray:
    """Plain-NumPy reference of ``grouped_entropy`` (tests)."""
    out = np.full(n_groups, np.nan)
    for g in np.unique(groups):
        _, c = np.unique(np.asarray(neighbours)[np.asarray(groups) == g], return_counts=True)
        p = c / c.sum()
        out[g] = float(-(p * np.log(p)).sum())
    return out


@dataclass(frozen=True)
class _Order:
    """The n-grams of one order: ``keys`` int64 [K] sorted (id of the (n-1)-gram * V + last
    symbol; an n-gram's id is its index here), their counts and branching entropies."""

    keys: np.ndarray
    counts: np.ndarray
    right_entropy: np.ndarray  # float64 [K], NaN where nothing follows
    left_entropy: np.ndarray


def _ngram_ids(orders: Sequence[_Order], seq: np.ndarray, vocab: int) -> list[np.ndarray]:
    """ids[n - 1][i]: the id of the n-gram seq[i:i+n] (-1 where unseen), int64 [len(seq) - n + 1]
    each."""
    out: list[np.ndarray] = []
    parent = np.zeros(seq.shape[0], dtype=np.int64)
    for n, order in enumerate(orders, start=1):
        last = seq[n - 1 :]
        key = parent[: last.shape[0]] * vocab + last
        at = np.minimum(np.searchsorted(order.keys, key), order.keys.shape[0] - 1)
        found = (parent[: last.shape[0]] >= 0) & (last >= 0) & (order.keys[at] == key)
        parent = np.where(found, at, -1)
        out.append(parent)
    return out


def _lookup(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """values[ids], NaN where an id is -1 (unseen)."""
    return np.where(ids >= 0, values[np.maximum(ids, 0)], np.nan)


@dataclass(frozen=True)
class _Framed:
    """Lines as one int64 sequence of symbol keys (``atom_keys``), each line framed by ``order``
    boundaries on both sides; ``at[i]``: where line i's atom 0 sits."""

    keys: np.ndarray
    at: np.ndarray  # int64 [lines + 1] (the last: where a next line would start)


def _frame(
    lines_atoms: Sequence[Atoms], order: int, long_symbols: dict[str, int], grow: bool
) -> _Framed:
    pad = np.full(order, BOUNDARY, dtype=np.int64)
    parts = [pad]
    for atoms in lines_atoms:
        parts += [atom_keys(atoms, long_symbols, grow), pad]
    sizes = np.array([len(a) + order for a in lines_atoms], dtype=np.int64)
    at = np.concatenate([[order], order + np.cumsum(sizes)])
    return _Framed(np.concatenate(parts), at)


class CountStats:
    """N-gram counts of a raw text (``from_lines``) and the count signal they give (``scores``)."""

    def __init__(
        self,
        vocab: np.ndarray,
        long_symbols: dict[str, int],
        orders: list[_Order],
        config: CountConfig,
        rules: SegmentRules,
    ) -> None:
        self.vocab = vocab  # int64 [V] sorted symbol keys; a symbol's id is its index
        self.long_symbols = long_symbols
        self.orders = orders  # orders 1..max(order, 2)
        self.total = int(orders[0].counts.sum())
        self.config = config
        self.rules = rules
        self.centre = dict.fromkeys(config.weights(), 0.0)
        self.spread = dict.fromkeys(config.weights(), 1.0)

    @classmethod
    def from_lines(
        cls,
        lines: Iterable[str],
        config: CountConfig | None = None,
        rules: SegmentRules | None = None,
    ) -> CountStats:
        """Count the lines (each read as atoms under ``rules``, the segmenter's)."""
        config = config or CountConfig()
        rules = rules or SegmentRules()
        lines_atoms = [line_atoms(line, rules) for line in lines]
        if not any((~a.dropped).any() for a in lines_atoms):
            raise BitbenchError("the text to count is empty: give --corpus text with some lines")
        long_symbols: dict[str, int] = {}
        framed = _frame(lines_atoms, config.order, long_symbols, grow=True)
        vocab, seq = np.unique(framed.keys, return_inverse=True)
        seq = seq.reshape(-1).astype(np.int64)
        size_v = vocab.shape[0]
        orders: list[_Order] = []
        parent = np.zeros(seq.shape[0], dtype=np.int64)
        for n in range(1, max(config.order, 2) + 1):  # pairs always: pmi and frequency
            key = parent[: seq.shape[0] - n + 1] * size_v + seq[n - 1 :]
            keys, ids, counts = np.unique(key, return_inverse=True, return_counts=True)
            ids = ids.reshape(-1)
            size = keys.shape[0]
            right = grouped_entropy(ids[:-1], seq[n:], size)  # the symbol after n-gram i
            left = grouped_entropy(ids[1:], seq[: seq.shape[0] - n], size)  # the one before
            orders.append(_Order(keys, counts.astype(np.int64), right, left))
            parent = ids
        stats = cls(vocab, long_symbols, orders, config, rules)
        values = stats._features(seq, framed.at)
        for name, v in values.items():  # standardise over the counted text's gaps
            v = v[np.isfinite(v)]
            stats.centre[name] = float(v.mean()) if v.size else 0.0
            spread = float(v.std()) if v.size else 1.0
            stats.spread[name] = spread if spread > 1e-12 else 1.0
        log.debug("counted %d symbols, %d distinct", seq.shape[0], size_v)
        return stats

    def _ids(self, keys: np.ndarray) -> np.ndarray:
        """Symbol ids of symbol keys (-1: a symbol the counts never saw)."""
        at = np.minimum(np.searchsorted(self.vocab, keys), self.vocab.shape[0] - 1)
        return np.where(self.vocab[at] == keys, at, -1)

    def _features(self, seq: np.ndarray, at: np.ndarray) -> dict[str, np.ndarray]:
        """float64 [gaps] per feature (unstandardised) at every gap inside a line, lines in order
        (line i's gaps before its atoms 1..m-1); NaN where the n-grams were never seen."""
        o = self.config.order
        ids = _ngram_ids(self.orders, seq, self.vocab.shape[0])
        sizes = np.diff(at) - o  # atoms per line
        gaps = np.maximum(sizes - 1, 0)  # positions in seq of atom k >= 1 of every line:
        first = np.repeat(at[:-1] + 1, gaps)
        pos = first + np.arange(int(gaps.sum())) - np.repeat(np.cumsum(gaps) - gaps, gaps)
        unigram = self.orders[0].counts
        c_a = np.where(ids[0][pos - 1] >= 0, unigram[np.maximum(ids[0][pos - 1], 0)], UNSEEN)
        c_b = np.where(ids[0][pos] >= 0, unigram[np.maximum(ids[0][pos], 0)], UNSEEN)
        pair = ids[1][pos - 1]
        c_ab = np.where(pair >= 0, self.orders[1].counts[np.maximum(pair, 0)], UNSEEN)
        out = {"pmi": -np.log(c_ab * self.total / (c_a * c_b)), "frequency": -np.log(c_ab)}
        for n in range(1, o + 1):
            table = self.orders[n - 1]
            out[f"entropy_right{n}"] = _lookup(table.right_entropy, ids[n - 1][pos - n])
            out[f"entropy_left{n}"] = _lookup(table.left_entropy, ids[n - 1][pos])
        if o >= 2:
            right1 = _lookup(self.orders[0].right_entropy, ids[0][pos - 2])
            left1 = _lookup(self.orders[0].left_entropy, ids[0][pos + 1])
            out["variation_right"] = out["entropy_right2"] - right1
            out["variation_left"] = out["entropy_left2"] - left1
        return out

    def features(self, lines_atoms: Sequence[Atoms]) -> list[dict[str, np.ndarray]]:
        """Per line, float64 [atoms] per feature (unstandardised; NaN at atom 0 and unseen)."""
        framed = _frame(lines_atoms, self.config.order, self.long_symbols, grow=False)
        values = self._features(self._ids(framed.keys), framed.at)
        out = []
        first = 0
        for atoms in lines_atoms:
            gaps = max(0, len(atoms) - 1)
            line = {}
            for name, v in values.items():
                x = np.full(len(atoms), np.nan)
                x[1:] = v[first : first + gaps]
                line[name] = x
            out.append(line)
            first += gaps
        return out

    def scores(self, lines_atoms: Sequence[Atoms]) -> list[np.ndarray]:
        """float64 [atoms] per line: the count signal (higher = a word starts; 0 at atom 0)."""
        weights = self.config.weights()
        out = []
        for line in self.features(lines_atoms):
            total = np.zeros(next(iter(line.values())).shape[0])
            for name, values in line.items():
                z = (values - self.centre[name]) / self.spread[name]
                total += weights[name] * np.where(np.isfinite(z), z, 0.0)
            out.append(total)
        return out

    def byte_scores(self, texts: Sequence[str]) -> list[np.ndarray]:
        """float32 [bytes] per text: the signal at the first byte of every atom (0 elsewhere),
        the form ``segment.segment_lines`` reads."""
        lines_atoms = [line_atoms(text, self.rules) for text in texts]
        out = []
        for text, atoms, s in zip(texts, lines_atoms, self.scores(lines_atoms), strict=True):
            offsets = char_byte_offsets(text)
            scores = np.zeros(int(offsets[-1]), dtype=np.float32)
            scores[offsets[atoms.bounds[:-1]]] = s
            out.append(scores)
        return out


def count_scorer(stats: CountStats):
    """A ``ByteScorer`` (``segment.segment_lines``) from counts: bytes of each line -> scores."""

    def scorer(sequences: Sequence[bytes]) -> list[np.ndarray]:
        return stats.byte_scores([s.decode("utf-8", errors="replace") for s in sequences])

    return scorer


def read_count_lines(sources: Sequence[str | Path]) -> list[str]:
    """The lines of every source: a plain UTF-8 text file, or a corpus store directory (every
    document of both splits, each cut into lines)."""
    lines: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            corpus = open_corpus(path)
            for i in range(corpus.num_docs):
                lines += corpus.document(i).decode("utf-8", errors="replace").splitlines()
        else:
            lines += read_text(path, "--corpus text", error=BitbenchError).splitlines()
    return lines
