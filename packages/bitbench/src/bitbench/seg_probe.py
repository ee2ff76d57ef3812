"""``--signal probe``: the count segmenter's cuts taught to a probe on the model's byte states
(self-training: the counts are the teacher, no gold anywhere).

The count segmenter (``seg_counts``, the same rules and decoder) cuts the raw text it counted
(``--corpus`` and the text being segmented). A small MLP then learns those cuts from the model's
frozen, unmasked byte states (``HasByteStates``): for the gap before character t of a line, its
input is the states of the first and the last byte of characters t-1 and t, its target whether
the counts start a word at t. Its logit is the signal. The two views differ: the counts know the
n-gram statistics of the whole text, the probe reads each gap in its sentence through what the
model learned; a student that sees another view can disagree with its teacher where the
teacher's evidence is thin, and adding the two (``counts+0.5*probe``) keeps the counts' word
lengths and lets the probe move the close calls.

Every distinct line is one training text (a line given twice counts once); the probe trains on
every gap of them all, the lines being segmented included (as the counts count them), in
``ProbeConfig.epochs`` passes. The gap features of all lines are held in memory (float32,
characters x 4 widths); the states behind them only for ``PASS_BYTES`` of text at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from bittrain.engine.contracts import HasByteStates

from bitbench.errors import BitbenchError
from bitbench.seg_counts import COUNT_UNIT_BYTES, CountStats, count_scorer
from bitbench.seg_decode import DecodeOptions
from bitbench.seg_rules import SegmentRules
from bitbench.segment import Progress, score_in_windows, segment_lines

log = logging.getLogger(__name__)

PASS_BYTES = 1 << 22  # bytes of text whose states are held at once while the features are built


@dataclass(frozen=True)
class ProbeConfig:
    """The probe and how it is fitted."""

    hidden: int = 256  # width of the MLP's one hidden layer
    epochs: int = 4  # passes over every gap of the training text
    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("hidden", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise BitbenchError(f"probe {name} is {getattr(self, name)}: use >= 1")
        if not self.lr > 0:
            raise BitbenchError(f"probe lr is {self.lr}: use > 0")


def char_starts(sequence: bytes) -> np.ndarray:
    """int64 [chars]: the first byte of every character."""
    data = np.frombuffer(sequence, dtype=np.uint8)
    return np.flatnonzero((data & 0xC0) != 0x80)


def gap_positions(sequence: bytes) -> np.ndarray:
    """int64 [gaps]: the first byte of every character but the first (where a word may start)."""
    return char_starts(sequence)[1:]


def gap_features(states: np.ndarray, sequence: bytes) -> np.ndarray:
    """float32 [gaps, 4D]: for the gap before each character t >= 1 of ``sequence``, the states
    [bytes, D] of the first and last byte of character t-1 and of character t."""
    states = np.asarray(states, dtype=np.float32)
    first = char_starts(sequence)
    last = np.append(first[1:], len(sequence)) - 1
    return np.concatenate(
        [states[first[:-1]], states[last[:-1]], states[first[1:]], states[last[1:]]], axis=1
    )


class GapProbe:
    """An MLP from standardised gap features to the logit of a word start."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, net: torch.nn.Module) -> None:
        self.mean = mean  # float32 [F]
        self.std = std  # float32 [F]
        self.net = net

    @torch.no_grad()
    def logits(self, features: np.ndarray) -> np.ndarray:
        """float32 [gaps] for features float32 [gaps, F]."""
        out = [
            self.net(torch.from_numpy(self.standardise(features[i : i + 65536]))).squeeze(-1)
            for i in range(0, features.shape[0], 65536)
        ]
        return torch.cat(out).numpy() if out else np.zeros(0, np.float32)

    def standardise(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.std).astype(np.float32, copy=False)


def feature_moments(features: np.ndarray, rows: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """float32 [F] mean and standard deviation (+1e-6) of features [G, F], summed in float64
    over blocks of ``rows`` (no copy of the whole array)."""
    total = np.zeros(features.shape[1], dtype=np.float64)
    squares = np.zeros(features.shape[1], dtype=np.float64)
    for first in range(0, features.shape[0], rows):
        block = features[first : first + rows].astype(np.float64)
        total += block.sum(axis=0)
        squares += np.square(block).sum(axis=0)
    n = max(features.shape[0], 1)
    mean = total / n
    var = np.maximum(squares / n - np.square(mean), 0.0)
    return mean.astype(np.float32), (np.sqrt(var) + 1e-6).astype(np.float32)


def fit_probe(
    features: np.ndarray,
    labels: np.ndarray,
    config: ProbeConfig | None = None,
    progress: Progress | None = None,
) -> GapProbe:
    """Fit ``GapProbe`` to features float32 [G, F] and bool labels [G] (binary cross-entropy,
    AdamW, seeded: the same inputs give the same probe). Each batch is standardised as it is
    drawn: nothing the size of ``features`` is copied."""
    config = config or ProbeConfig()
    if features.shape[0] == 0:
        raise BitbenchError("the probe has no gaps to learn from: give lines of two characters")
    mean, std = feature_moments(features)
    y = torch.from_numpy(np.asarray(labels, dtype=np.float32))
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(features.shape[1], config.hidden),
        torch.nn.GELU(),
        torch.nn.Linear(config.hidden, 1),
    )
    probe = GapProbe(mean, std, net)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(config.epochs):
        order = torch.randperm(features.shape[0], generator=generator)
        total = 0.0
        for first in range(0, features.shape[0], config.batch_size):
            rows = order[first : first + config.batch_size]
            x = torch.from_numpy(probe.standardise(features[rows.numpy()]))
            loss = loss_fn(net(x).squeeze(-1), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * rows.numel()
        log.info("probe epoch %d: loss %.4f", epoch + 1, total / features.shape[0])
        if progress is not None:
            progress("fitting the probe", epoch + 1, config.epochs)
    net.eval()
    return probe


def teacher_starts(
    stats: CountStats, lines: Sequence[str], options: DecodeOptions, rules: SegmentRules
) -> list[np.ndarray]:
    """bool [bytes] per line: the count segmenter's word starts (its unit length: the options'
    target, else ``COUNT_UNIT_BYTES``)."""
    target = options.target_unit_bytes or COUNT_UNIT_BYTES
    options = replace(options, threshold=None, target_unit_bytes=target)  # the counts' own scale
    seg = segment_lines(None, lines, options=options, rules=rules, scorer=count_scorer(stats))
    return [line.byte_starts() for line in seg.details]


def lines_gap_features(
    model: HasByteStates,
    data: Sequence[bytes],
    at: np.ndarray,
    seq_len: int,
    progress: Progress | None = None,
) -> np.ndarray:
    """float32 [gaps, 4D]: the gap features of every line, line i's at rows at[i]:at[i + 1].
    The lines are scored in passes of about ``PASS_BYTES``; each pass's states [bytes, D] are
    dropped once its features are copied out."""

    def states_of(windows: np.ndarray, pad: np.ndarray) -> np.ndarray:
        return model.byte_states(windows, pad=pad)  # [M, W, D]

    features: np.ndarray | None = None
    first = 0
    while first < len(data):
        stop, size = first + 1, len(data[first])
        while stop < len(data) and size + len(data[stop]) <= PASS_BYTES:
            size, stop = size + len(data[stop]), stop + 1
        states = score_in_windows(states_of, data[first:stop], seq_len, progress=progress)
        for i, line_states in enumerate(states, start=first):
            if at[i + 1] == at[i]:
                continue  # one character or none: no gap (and an empty line has no width)
            if features is None:
                features = np.empty((int(at[-1]), 4 * line_states.shape[1]), dtype=np.float32)
            features[at[i] : at[i + 1]] = gap_features(line_states, data[i])
        first = stop
    return features if features is not None else np.zeros((0, 4), np.float32)


@dataclass(frozen=True)
class ProbeSetup:
    """What the probe signal needs besides the model and the counts: the raw text the counts
    came from (its training text) and the segmenter's decoder and rules (the teacher's)."""

    text_lines: Sequence[str] = ()
    options: DecodeOptions = field(default_factory=DecodeOptions)
    rules: SegmentRules = field(default_factory=SegmentRules)
    config: ProbeConfig = field(default_factory=ProbeConfig)


def probe_scores(
    model: Any,
    stats: CountStats,
    sequences: Sequence[bytes],
    setup: ProbeSetup,
    seq_len: int = 512,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """float32 [len(seq)] per sequence: the probe's logit at the first byte of every character
    but the first, 0 elsewhere. The probe learns the count segmenter's starts on the distinct
    lines of ``setup.text_lines`` and of the sequences."""
    if not isinstance(model, HasByteStates):
        raise BitbenchError(
            f"signal 'probe' reads the model's byte states: a {model.kind} model gives none"
        )
    options, rules = setup.options, setup.rules
    given = [s.decode("utf-8", "replace") for s in sequences]
    texts = list(dict.fromkeys([*setup.text_lines, *given]))
    data = [t.encode("utf-8") for t in texts]
    if progress is not None:
        progress("probe: the counts' cuts", 0, 1)
    starts = teacher_starts(stats, texts, options, rules)

    positions = [gap_positions(d) for d in data]
    at = np.cumsum([0, *(p.size for p in positions)])  # text i's gaps: features[at[i]:at[i + 1]]
    features = lines_gap_features(model, data, at, seq_len, progress)
    labels = np.concatenate([s[p] for s, p in zip(starts, positions, strict=True)])
    probe = fit_probe(features, labels, setup.config, progress)
    row = {t: i for i, t in enumerate(texts)}
    out = []
    for seq, text in zip(sequences, given, strict=True):
        i = row[text]
        if len(data[i]) != len(seq):
            raise BitbenchError("signal 'probe' reads UTF-8 text: a line to segment is not")
        scores = np.zeros(len(seq), dtype=np.float32)
        if positions[i].size:
            scores[positions[i]] = probe.logits(features[at[i] : at[i + 1]])
        out.append(scores)
    return out
