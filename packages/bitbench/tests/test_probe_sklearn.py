"""The probe against scikit-learn (a dev dependency; bitbench never imports it at run time):
the same objective gives accuracy and macro-F1 within 0.01 of LogisticRegression on the same
features, the report is classification_report's, and the L2 strength comes from stratified
k-fold cross-validation on the training split."""

from __future__ import annotations

import numpy as np
import pytest
from bitbench.probe import (
    DEFAULT_GRID,
    LabelledTexts,
    choose_l2,
    classification_report,
    fit_linear_probe,
    run_probe,
    stratified_folds,
)

sklearn = pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.metrics import classification_report as sk_report  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def _overlapping(n: int, classes: int, dim: int, seed: int, spread: float = 1.6):
    """Gaussian classes that overlap (accuracy well below 1), with an offset and unequal
    scales so that standardisation matters, plus pure-noise dimensions."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(classes, dim)) * 1.2
    y = rng.choice(
        classes, size=n, p=np.linspace(1.0, 2.0, classes) / np.linspace(1, 2, classes).sum()
    )
    x = centres[y] + rng.normal(size=(n, dim)) * spread
    x = x * np.linspace(0.1, 50.0, dim) + 7.0
    noise = rng.normal(size=(n, dim)) * 3.0
    return np.concatenate([x, noise], axis=1), y


def _sklearn_scores(x, y, xt, yt, l2: float) -> tuple[float, float]:
    scaler = StandardScaler().fit(x)
    # mean CE + l2 ||W||^2  ==  (C * sum CE + ||W||^2 / 2) / (C N)  with  C = 1 / (2 l2 N)
    model = LogisticRegression(C=1.0 / (2.0 * l2 * len(y)), max_iter=20_000, tol=1e-10)
    pred = model.fit(scaler.transform(x), y).predict(scaler.transform(xt))
    return accuracy_score(yt, pred), f1_score(yt, pred, average="macro")


@pytest.mark.parametrize(("classes", "l2"), [(2, 1e-4), (3, 1e-3), (3, 1e-1), (4, 3e-2)])
def test_accuracy_and_macro_f1_within_001_of_logistic_regression(classes, l2) -> None:
    x, y = _overlapping(500, classes, 12, seed=1)
    xt, yt = _overlapping(600, classes, 12, seed=2)
    probe = fit_linear_probe(x, y, classes, l2=l2)
    ours = classification_report(yt, probe.predict(xt), [str(c) for c in range(classes)])
    acc, macro = _sklearn_scores(x, y, xt, yt, l2)
    assert 0.4 < acc < 0.97  # a problem where the two could disagree
    assert abs(ours["accuracy"] - acc) <= 0.01
    assert abs(ours["macro_f1"] - macro) <= 0.01


def test_the_cross_validated_probe_matches_logistic_regression_at_its_choice() -> None:
    x, y = _overlapping(400, 3, 10, seed=3)
    xt, yt = _overlapping(500, 3, 10, seed=4)
    cv = choose_l2(x, y, 3, folds=5, seed=0)
    probe = fit_linear_probe(x, y, 3, l2=cv.chosen)
    ours = classification_report(yt, probe.predict(xt), ["a", "b", "c"])
    acc, macro = _sklearn_scores(x, y, xt, yt, cv.chosen)
    assert abs(ours["accuracy"] - acc) <= 0.01 and abs(ours["macro_f1"] - macro) <= 0.01


def test_on_real_model_features_too() -> None:
    """Pooled features of a (random) byte model on texts whose classes share letters."""
    import torch
    from bitbaselines import ByteMLM, ByteMLMConfig
    from bitbench.probe import extract_features
    from bittrain.tasks.baseline_eval import ByteEvalModel

    torch.manual_seed(0)
    model = ByteEvalModel(ByteMLM(ByteMLMConfig(d_model=32, n_layers=1, n_heads=2, window=8)))
    rng = np.random.default_rng(5)
    alphabets = [list(b"abcdefgh "), list(b"efghijkl "), list(b"ijklabcd ")]

    def texts(n: int):
        y = rng.integers(0, 3, size=n)
        return [
            bytes(rng.choice(alphabets[c], size=int(rng.integers(4, 12))).tolist()) for c in y
        ], y

    train, y = texts(300)
    test, yt = texts(300)
    x, xt = extract_features(model, train), extract_features(model, test)
    for l2 in (1e-3, 1e-1):
        probe = fit_linear_probe(x, y, 3, l2=l2)
        ours = classification_report(yt, probe.predict(xt), ["0", "1", "2"])
        acc, macro = _sklearn_scores(x, y, xt, yt, l2)
        assert abs(ours["accuracy"] - acc) <= 0.01 and abs(ours["macro_f1"] - macro) <= 0.01


def test_report_is_classification_reports_dict_and_text() -> None:
    rng = np.random.default_rng(0)
    names = ["negative", "neutral", "positive", "x"]
    checked = 0
    for _ in range(150):
        n = int(rng.integers(1, 50))
        y_true, y_pred = rng.integers(0, 4, size=n), rng.integers(0, 4, size=n)
        ours = classification_report(y_true, y_pred, names)
        present = sorted(set(y_true) | set(y_pred))
        kwargs = {"target_names": [names[i] for i in present], "zero_division": 0}
        ref = sk_report(y_true, y_pred, output_dict=True, **kwargs)
        assert list(ours["report"]) == list(ref)
        for key, value in ref.items():
            if key == "accuracy":
                assert ours["report"][key] == pytest.approx(value, abs=1e-12)
            else:
                assert ours["report"][key] == pytest.approx(value, abs=1e-12), key
        if (y_true == y_pred).any():  # at accuracy 0 scikit-learn prints supports as floats
            assert ours["report_text"] == sk_report(y_true, y_pred, **kwargs)
            checked += 1
    assert checked > 100


def test_folds_are_stratified_and_seeded() -> None:
    y = np.array([0] * 50 + [1] * 30 + [2] * 7)
    folds = stratified_folds(y, 5, seed=3)
    assert np.array_equal(folds, stratified_folds(y, 5, seed=3))
    assert not np.array_equal(folds, stratified_folds(y, 5, seed=4))
    for label, count in ((0, 50), (1, 30), (2, 7)):
        per_fold = np.bincount(folds[y == label], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1 and per_fold.sum() == count
    assert np.bincount(folds).max() - np.bincount(folds).min() <= 1


def test_cv_scores_are_those_of_logistic_regression_on_the_same_folds() -> None:
    """A reference cross-validation with scikit-learn on our folds: per strength, the mean
    held-out accuracy agrees, and the choice is the best mean (ties: the stronger penalty)."""
    x, y = _overlapping(300, 3, 6, seed=11)
    cv = choose_l2(x, y, 3, folds=4, seed=2)
    folds = stratified_folds(y, 4, seed=2)
    for i, l2 in enumerate(cv.grid):
        scores = []
        for f in range(4):
            train, held = folds != f, folds == f
            acc, _ = _sklearn_scores(x[train], y[train], x[held], y[held], l2)
            scores.append(acc)
        assert cv.mean[i] == pytest.approx(np.mean(scores), abs=0.02), l2
    best = max(cv.mean)
    assert cv.chosen == next(g for g, m in zip(cv.grid, cv.mean, strict=True) if m >= best - 1e-12)


def test_cv_keeps_a_weak_signal_off_the_majority_class() -> None:
    """Dense weak evidence in many dimensions: the strongest penalty of the grid predicts the
    majority class only; cross-validation does not pick it, and its choice generalises."""
    rng = np.random.default_rng(9)

    def data(n):
        y = rng.integers(0, 2, size=n)
        return (y * 2.0 - 1.0)[:, None] * 0.25 + rng.normal(size=(n, 50)), y

    x, y = data(60)
    xt, yt = data(2000)
    strongest = fit_linear_probe(x, y, 2, l2=max(DEFAULT_GRID))
    majority = np.bincount(yt).max() / len(yt)
    assert (strongest.predict(xt) == yt).mean() <= majority + 0.02
    cv = choose_l2(x, y, 2, folds=5, seed=0)
    assert cv.chosen < max(DEFAULT_GRID)
    chosen = fit_linear_probe(x, y, 2, l2=cv.chosen)
    assert (chosen.predict(xt) == yt).mean() > majority + 0.25


def test_run_probe_reports_its_choice_and_a_fixed_l2_skips_cv() -> None:
    class Features:
        kind = "table"

        def features(self, texts):
            return np.array([[t.count(b"a"), t.count(b"b"), len(t)] for t in texts], np.float32)

    rng = np.random.default_rng(0)

    def make(n):
        labels = rng.integers(0, 2, size=n)
        texts = [bytes(rng.choice(list(b"aab" if c else b"abb"), size=10).tolist()) for c in labels]
        return LabelledTexts(texts, [("no", "yes")[c] for c in labels], "mem", False)

    train, test = make(120), make(80)
    result = run_probe(Features(), train, test, folds=4, seed=1)
    assert result["l2_selection"] == "cross-validation" and result["cv"]["folds"] == 4
    assert result["l2"] in DEFAULT_GRID
    assert [s["l2"] for s in result["cv"]["scores"]] == sorted(DEFAULT_GRID, reverse=True)
    assert "macro avg" in result["report_text"] and "weighted avg" in result["report_text"]
    fixed = run_probe(Features(), train, test, l2=0.01)
    assert fixed["l2"] == 0.01 and fixed["cv"] is None and fixed["l2_selection"] == "fixed"
