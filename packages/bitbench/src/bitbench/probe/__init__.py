"""Frozen-encoder linear probe (downstream evaluation, DESIGN.md "Metrics").

``run_probe(model, train, test)`` pools the model's frozen features (``EvalModel.features``) for
the texts of two labelled sets, fits a multinomial logistic regression on the training features
(standardised, L-BFGS, deterministic) with its L2 strength chosen by stratified k-fold
cross-validation on the training split (``probe.selection``; or a fixed ``l2``), and reports
accuracy, macro-F1 and scikit-learn's per-class ``classification_report`` (precision, recall,
f1-score, support, accuracy, macro avg, weighted avg) on the test set. Works for any EvalModel:
bitswin runs and the token-level baselines alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bitbench.errors import BitbenchError
from bitbench.probe.classifier import LinearProbe, fit_linear_probe
from bitbench.probe.data import LabelledTexts, cap_rows, read_labelled, split_holdout
from bitbench.probe.report import classification_report, confusion_matrix, format_report
from bitbench.probe.selection import DEFAULT_FOLDS, DEFAULT_GRID, choose_l2, stratified_folds

FEATURE_CHUNK = 256


def _label_order(labels: list[str]) -> list[str]:
    """Numeric labels in numeric order, others alphabetically."""
    unique = sorted(set(labels))
    try:
        return sorted(unique, key=float)
    except ValueError:
        return unique


def extract_features(
    model: Any, texts: list[bytes], progress: Callable[[int, int], None] | None = None
) -> np.ndarray:
    """float32 [N, D] features, computed in chunks so that progress can be shown."""
    parts = []
    for start in range(0, len(texts), FEATURE_CHUNK):
        parts.append(np.asarray(model.features(texts[start : start + FEATURE_CHUNK]), np.float32))
        if progress is not None:
            progress(min(start + FEATURE_CHUNK, len(texts)), len(texts))
    if not parts:
        raise BitbenchError("no texts to embed")
    return np.concatenate(parts, axis=0)


def run_probe(
    model: Any,
    train: LabelledTexts,
    test: LabelledTexts,
    *,
    l2: float | None = None,
    folds: int = DEFAULT_FOLDS,
    grid: tuple[float, ...] = DEFAULT_GRID,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Fit on ``train``, report on ``test`` (see the module doc). ``l2=None``: chosen by
    ``folds``-fold cross-validation over ``grid`` on ``train`` (folds drawn with ``seed``).
    Returns a JSON-able dict."""
    class_names = _label_order(train.labels + test.labels)
    index = {name: i for i, name in enumerate(class_names)}
    if len(set(train.labels)) < 2:
        raise BitbenchError(
            f"training set '{train.source}' has a single label {train.labels[0]!r}: a probe "
            "needs at least two classes"
        )
    y_train = np.array([index[label] for label in train.labels], dtype=np.int64)
    y_test = np.array([index[label] for label in test.labels], dtype=np.int64)

    def stage(name: str) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, total: progress(name, done, total)

    x_train = extract_features(model, train.texts, stage("train features"))
    x_test = extract_features(model, test.texts, stage("test features"))
    cv = None
    if l2 is None:
        if progress is not None:
            progress("cross-validating L2", 0, 1)
        cv = choose_l2(x_train, y_train, len(class_names), grid=grid, folds=folds, seed=seed)
        l2 = cv.chosen
        if progress is not None:
            progress("cross-validating L2", 1, 1)
    if not l2 > 0:
        raise BitbenchError(f"l2 is {l2}: the L2 strength must be > 0 (or chosen by CV)")
    probe = fit_linear_probe(x_train, y_train, len(class_names), l2=l2)
    report = classification_report(y_test, probe.predict(x_test), class_names)
    train_acc = float((probe.predict(x_train) == y_train).mean())
    majority = float(np.bincount(y_test, minlength=len(class_names)).max() / len(y_test))
    return {
        **report,
        "train_accuracy": train_acc,
        "majority_baseline": majority,
        "num_train": len(train),
        "feature_dim": int(x_train.shape[1]),
        "l2": l2,
        "l2_selection": "cross-validation" if cv is not None else "fixed",
        "cv": cv.to_dict() if cv is not None else None,
        "train_loss": probe.train_loss,
        "kind": model.kind,
    }


__all__ = [
    "DEFAULT_FOLDS",
    "DEFAULT_GRID",
    "LabelledTexts",
    "LinearProbe",
    "cap_rows",
    "choose_l2",
    "classification_report",
    "confusion_matrix",
    "extract_features",
    "fit_linear_probe",
    "format_report",
    "read_labelled",
    "run_probe",
    "split_holdout",
    "stratified_folds",
]
