"""Classification report: accuracy, macro-F1, per-class precision / recall / F1 / support and the
confusion matrix, from integer labels (scikit-learn's definitions; 0 where a ratio is 0/0).

``report`` / ``report_text`` are scikit-learn's ``classification_report`` (``output_dict=True``
and the printed table, same keys, same rows: the labels seen in the truth or the predictions,
then accuracy, macro avg, weighted avg), computed here without scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """int64 [C, C]: rows are true classes, columns predicted classes."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(len(num), dtype=np.float64), where=den > 0)


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]
) -> dict[str, Any]:
    cm = confusion_matrix(y_true, y_pred, len(class_names))
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, predicted + support)  # = 2PR / (P + R), computed as scikit-learn does
    total = cm.sum()
    per_class = [
        {"label": name, "precision": float(p), "recall": float(r), "f1": float(f),
         "support": int(s)}
        for name, p, r, f, s in zip(class_names, precision, recall, f1, support, strict=True)
    ]  # fmt: skip
    present = (support > 0) | (predicted > 0)  # as scikit-learn: labels seen in y_true or y_pred
    accuracy = float(tp.sum() / total) if total else 0.0
    report = _sklearn_dict(class_names, precision, recall, f1, support, present, accuracy)
    return {
        "report": report,
        "report_text": format_report(report),
        "accuracy": accuracy,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "macro_precision": float(precision[present].mean()) if present.any() else 0.0,
        "macro_recall": float(recall[present].mean()) if present.any() else 0.0,
        "per_class": per_class,
        "confusion": cm.tolist(),
        "labels": list(class_names),
        "num_test": int(total),
    }


HEADERS = ("precision", "recall", "f1-score", "support")
AVERAGES = ("macro avg", "weighted avg")


def _sklearn_dict(
    names: list[str],
    precision: np.ndarray,
    recall: np.ndarray,
    f1: np.ndarray,
    support: np.ndarray,
    present: np.ndarray,
    accuracy: float,
) -> dict[str, Any]:
    """scikit-learn's ``classification_report(..., output_dict=True)`` for the present labels."""
    out: dict[str, Any] = {}
    for i in np.flatnonzero(present):
        out[names[i]] = dict(zip(HEADERS, (float(precision[i]), float(recall[i]),
                                           float(f1[i]), float(support[i])), strict=True))  # fmt: skip
    scores = np.stack([precision, recall, f1])[:, present]  # [3, labels]
    weights = support[present]
    n = float(weights.sum())
    out["accuracy"] = accuracy
    macro = scores.mean(axis=1) if present.any() else np.zeros(3)
    weighted = (scores * weights).sum(axis=1) / n if n > 0 else np.zeros(3)
    out["macro avg"] = dict(zip(HEADERS, (*map(float, macro), n), strict=True))
    out["weighted avg"] = dict(zip(HEADERS, (*map(float, weighted), n), strict=True))
    return out


def format_report(report: dict[str, Any], digits: int = 2) -> str:
    """The table scikit-learn's ``classification_report`` prints, from its dict layout."""
    names = [k for k in report if k not in ("accuracy", *AVERAGES)]
    width = max([len(name) for name in names] + [len("weighted avg"), digits])
    text = "{:>{width}s} ".format("", width=width) + "".join(f" {h:>9}" for h in HEADERS)
    text += "\n\n"
    row = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for name in names:
        r = report[name]
        text += row.format(name, r["precision"], r["recall"], r["f1-score"], int(r["support"]),
                           width=width, digits=digits)  # fmt: skip
    text += "\n"
    n = int(report["macro avg"]["support"])
    text += ("{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f} {:>9}\n").format(
        "accuracy", "", "", report["accuracy"], n, width=width, digits=digits
    )
    for name in AVERAGES:
        r = report[name]
        text += row.format(name, r["precision"], r["recall"], r["f1-score"], int(r["support"]),
                           width=width, digits=digits)  # fmt: skip
    return text
