"""The probe signal: gap features, the fit, and a probe that learns the count segmenter's cuts
from a fake model's byte states."""

from __future__ import annotations

import bitbench.seg_probe as seg_probe
import numpy as np
import pytest
from bitbench.errors import BitbenchError
from bitbench.seg_counts import CountStats, count_scorer
from bitbench.seg_decode import DecodeOptions
from bitbench.seg_probe import (
    ProbeConfig,
    ProbeSetup,
    feature_moments,
    fit_probe,
    gap_features,
    gap_positions,
    lines_gap_features,
    probe_scores,
)
from bitbench.seg_signals import make_scorer
from bitbench.segment import segment_lines
from bitbench.sighan import score_lines

WORDS = ["共同", "创造", "美好", "的", "新世纪", "中国", "人民", "发展", "经济", "我们"]


def toy_lines(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(WORDS, size=int(rng.integers(4, 9)))) for _ in range(n)]


class CharStates:
    """byte_states: every byte carries a fixed random vector of its character (D = 24), so a
    gap's features name the two characters around it and nothing else."""

    kind = "bitswin"

    def __init__(self) -> None:
        self.table: dict[str, np.ndarray] = {}
        self.rng = np.random.default_rng(1)

    def byte_states(self, windows, *, pad=None, doc_starts=None):
        out = np.zeros((*windows.shape, 24), dtype=np.float32)
        pad = np.zeros(windows.shape, bool) if pad is None else pad
        for r in range(windows.shape[0]):
            data = windows[r][~pad[r]].tobytes()
            at = 0
            for ch in data.decode("utf-8", "replace"):
                size = len(ch.encode())
                vec = self.table.setdefault(ch, self.rng.normal(size=24).astype(np.float32))
                out[r, at : at + size] = vec
                at += size
        return out


def test_gap_positions_and_features():
    seq = "a共b".encode()  # bytes: a, 3 x 共, b
    assert gap_positions(seq).tolist() == [1, 4]
    states = np.arange(5, dtype=np.float32)[:, None]  # [5, 1]: each byte's state is its place
    # first and last byte of the character before the gap, then of the one after it
    assert gap_features(states, seq).tolist() == [[0, 0, 1, 3], [1, 3, 4, 4]]
    assert gap_positions("共".encode()).size == 0
    assert gap_features(np.zeros((3, 2)), "共".encode()).shape == (0, 8)


def test_gap_features_in_passes_are_the_features_of_every_line(monkeypatch):
    """Scored a few lines per pass (only one pass's states held), the features are those of each
    line on its own, in place; lines of one character or none add no rows."""
    lines = [*toy_lines(6), "", "共", "a共b", *toy_lines(3, seed=2)]
    data = [line.encode() for line in lines]
    at = np.cumsum([0, *(gap_positions(d).size for d in data)])
    model = CharStates()
    whole = lines_gap_features(model, data, at, seq_len=32)
    monkeypatch.setattr(seg_probe, "PASS_BYTES", 20)  # a pass or more per line
    passes = lines_gap_features(model, data, at, seq_len=32)
    assert whole.shape == (at[-1], 4 * 24) and np.array_equal(whole, passes)
    for i, d in enumerate(data):
        alone = model.byte_states(np.frombuffer(d, np.uint8)[None, :])[0] if d else None
        if at[i + 1] > at[i]:
            assert np.array_equal(whole[at[i] : at[i + 1]], gap_features(alone, d))
    assert lines_gap_features(model, [b"", "共".encode()], np.zeros(3, int), 32).shape[0] == 0


def test_feature_moments_are_numpys():
    x = np.random.default_rng(3).normal(size=(1000, 5)).astype(np.float32) * 4 + 7
    mean, std = feature_moments(x, rows=64)  # blocks that do not divide the rows
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(std, x.std(axis=0) + 1e-6, rtol=1e-4)


def test_fit_probe_learns_a_separable_rule_and_is_seeded():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 6)).astype(np.float32) * 5 + 3  # standardised inside the probe
    y = (x[:, 0] - 3) + 0.5 * (x[:, 2] - 3) > 0
    config = ProbeConfig(hidden=16, epochs=5, batch_size=32)
    probe = fit_probe(x, y, config)
    agree = float(np.mean((probe.logits(x) > 0) == y))
    assert agree > 0.97
    assert np.array_equal(probe.logits(x), fit_probe(x, y, config).logits(x))
    with pytest.raises(BitbenchError, match="no gaps"):
        fit_probe(np.zeros((0, 6), np.float32), np.zeros(0, bool))
    with pytest.raises(BitbenchError, match="epochs"):
        ProbeConfig(epochs=0)


def test_the_probe_learns_the_counts_cuts():
    text = toy_lines(400)
    lines = toy_lines(30, seed=5)
    stats = CountStats.from_lines(text + lines)
    options = DecodeOptions(target_unit_bytes=6.0)
    teacher = segment_lines(None, lines, options=options, scorer=count_scorer(stats)).lines
    setup = ProbeSetup(text, options, config=ProbeConfig(hidden=32, epochs=8))
    model = CharStates()
    scores = probe_scores(model, stats, [s.encode() for s in lines], setup, seq_len=64)
    assert all(s.shape == (len(line.encode()),) for s, line in zip(scores, lines, strict=True))
    student = segment_lines(None, lines, options=options, scorer=lambda _: scores).lines
    # the student reads only the two characters around each gap (the teacher also reads n-grams
    # around them), yet it learns the teacher's cuts, far beyond one word per character
    singles = [list(line) for line in lines]
    assert score_lines(teacher, singles).f1 < 0.6
    assert score_lines(teacher, student).f1 > 0.9
    through = make_scorer(model, "probe", 64, counts=stats, probe=setup)([lines[0].encode()])
    assert through[0].shape == scores[0].shape


def test_probe_refusals():
    stats = CountStats.from_lines(toy_lines(20))

    class NoStates:
        kind = "bpe"

    with pytest.raises(BitbenchError, match="byte states"):
        probe_scores(NoStates(), stats, [b"x"], ProbeSetup(["x"]))
    with pytest.raises(BitbenchError, match="counted text to train its probe"):
        make_scorer(CharStates(), "counts+probe", counts=stats)
    with pytest.raises(BitbenchError, match="needs raw text"):
        make_scorer(CharStates(), "probe")
