"""Linear probe: file parsing, the classifier, the per-class report, end to end on a real model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bitbench.errors import BitbenchError
from bitbench.probe import (
    classification_report,
    fit_linear_probe,
    read_labelled,
    run_probe,
    split_holdout,
)
from bitbench.probe.data import LabelledTexts, cap_rows

# -- report on a hand-made confusion -------------------------------------------------------------


def test_report_on_a_hand_made_confusion():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    r = classification_report(y_true, y_pred, ["neg", "neu", "pos"])
    assert r["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert r["accuracy"] == pytest.approx(4 / 6)
    neg, neu, pos = r["per_class"]
    assert (neg["precision"], neg["recall"], neg["f1"], neg["support"]) == pytest.approx(
        (1.0, 2 / 3, 0.8, 3)
    )
    assert (neu["precision"], neu["recall"], neu["f1"], neu["support"]) == pytest.approx(
        (0.5, 0.5, 0.5, 2)
    )
    assert (pos["precision"], pos["recall"], pos["f1"], pos["support"]) == pytest.approx(
        (0.5, 1.0, 2 / 3, 1)
    )
    assert r["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_report_zero_division_is_zero_and_unseen_classes_do_not_count():
    r = classification_report(np.array([0, 0]), np.array([0, 0]), ["a", "b"])
    assert r["per_class"][1] == {"label": "b", "precision": 0.0, "recall": 0.0, "f1": 0.0,
                                 "support": 0}  # fmt: skip
    assert r["macro_f1"] == pytest.approx(1.0)  # b is neither true nor predicted
    r = classification_report(np.array([0, 0]), np.array([0, 1]), ["a", "b"])
    assert r["macro_f1"] == pytest.approx((2 / 3 + 0.0) / 2)  # b predicted once: counts as 0


# -- classifier ----------------------------------------------------------------------------------


def _blobs(n: int, seed: int):
    rng = np.random.default_rng(seed)
    centres = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]]) * 10
    y = rng.integers(0, 3, size=n)
    x = centres[y] + rng.normal(size=(n, 3)) * 3.0 + 100.0  # offset: standardisation matters
    return np.concatenate([x, rng.normal(size=(n, 5))], axis=1), y


def test_linear_probe_separates_blobs_and_is_deterministic():
    x, y = _blobs(300, 0)
    xt, yt = _blobs(200, 1)
    probe = fit_linear_probe(x, y, 3)
    assert (probe.predict(xt) == yt).mean() > 0.95
    again = fit_linear_probe(x, y, 3)
    assert np.array_equal(probe.weight, again.weight) and np.array_equal(probe.bias, again.bias)


def test_linear_probe_rejects_bad_features():
    with pytest.raises(BitbenchError, match="NaN"):
        fit_linear_probe(np.array([[np.nan], [1.0]]), np.array([0, 1]), 2)
    with pytest.raises(BitbenchError, match="features"):
        fit_linear_probe(np.zeros((3, 2)), np.array([0, 1]), 2)


# -- end to end on a real (untrained) byte model -------------------------------------------------


def test_probe_on_a_separable_text_dataset_with_a_real_model():
    from bitbaselines import ByteMLM, ByteMLMConfig
    from bittrain.tasks.baseline_eval import ByteEvalModel

    torch.manual_seed(0)
    model = ByteEvalModel(ByteMLM(ByteMLMConfig(d_model=32, n_layers=1, n_heads=2, window=8)))
    rng = np.random.default_rng(0)

    def make(n: int) -> LabelledTexts:
        labels = rng.integers(0, 2, size=n)
        alphabet = [b"xyzw ", b"pqrs "]
        texts = [bytes(rng.choice(list(alphabet[c]), size=int(rng.integers(5, 30))).tolist())
                 for c in labels]  # fmt: skip
        return LabelledTexts(texts, [("neg", "pos")[c] for c in labels], "synthetic", False)

    seen = []
    result = run_probe(model, make(120), make(80), progress=lambda *a: seen.append(a))
    assert result["accuracy"] >= 0.95 and result["macro_f1"] >= 0.95
    assert result["labels"] == ["neg", "pos"] and result["num_test"] == 80
    assert result["feature_dim"] == 32 and result["kind"] == "byte"
    assert {s[0] for s in seen} == {"train features", "test features", "cross-validating L2"}
    assert result["l2_selection"] == "cross-validation"
    assert result["l2"] == result["cv"]["chosen_l2"] and result["cv"]["folds"] == 5
    assert set(result["report"]) == {"neg", "pos", "accuracy", "macro avg", "weighted avg"}


def test_probe_needs_two_training_classes():
    data = LabelledTexts([b"a", b"b"], ["1", "1"], "one.tsv", False)
    with pytest.raises(BitbenchError, match="single label"):
        run_probe(object(), data, data)


# -- parsing -------------------------------------------------------------------------------------


def test_tsv_with_header_and_crlf(tmp_path):
    path = tmp_path / "sst.tsv"
    path.write_bytes(b'sentence\tlabel\r\nit \'s "fine" .\t1\r\nbad .\t0\r\n\r\n')
    data = read_labelled(path)
    assert data.header and data.texts == [b'it \'s "fine" .', b"bad ."]
    assert data.labels == ["1", "0"]


def test_tsv_without_header_and_column_indices(tmp_path):
    path = tmp_path / "plain.tsv"
    path.write_text("pos\tgreat film\nneg\tdull\n", encoding="utf-8")
    data = read_labelled(path)  # default: label = last column
    assert not data.header and data.labels == ["great film", "dull"]
    data = read_labelled(path, text_col=1, label_col=0)
    assert data.texts == [b"great film", b"dull"] and data.labels == ["pos", "neg"]


def test_csv_with_quotes_embedded_newlines_and_named_columns(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('label,review\n1,"\u597d,""\u5f88\u597d""\n\u7b2c\u4e8c\u884c"\n0,\u5dee\n',
                    encoding="utf-8")  # fmt: skip
    data = read_labelled(path)
    assert data.header and data.labels == ["1", "0"]
    assert data.texts[0].decode() == '\u597d,"\u5f88\u597d"\n\u7b2c\u4e8c\u884c'
    same = read_labelled(path, text_col="review", label_col="label")
    assert same.texts == data.texts
    semi = tmp_path / "s.txt"
    semi.write_text("text;label\nhello;a\nbye;b\n", encoding="utf-8")
    assert read_labelled(semi, delimiter=";").labels == ["a", "b"]


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        ("only one column\n", {}, "one column"),
        ("a\tb\nx\t1\n", {"text_col": "sentence"}, r"header has \[.a., .b.\]"),
        ("sentence\tlabel\nx\t1\n", {"label_col": "klass"}, "is not a column"),
        ("sentence\tlabel\nx\t1\n", {"label_col": 5}, "out of range"),
        ("sentence\tlabel\nx\t1\nlonely\n", {}, "row 3 has 1 field"),
        ("sentence\tlabel\nx\t\n", {}, "empty label"),
        ("sentence\tlabel\n", {}, "no data rows"),
        ("", {}, "no rows"),
        ("a\tb\n", {"delimiter": "::"}, "one character"),
    ],
)
def test_parsing_errors_name_the_problem(tmp_path, content, kwargs, message):
    path = tmp_path / "f.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BitbenchError, match=message):
        read_labelled(path, **kwargs)


def test_missing_file_and_split_helpers(tmp_path):
    with pytest.raises(BitbenchError, match="does not exist"):
        read_labelled(tmp_path / "nope.tsv")
    data = LabelledTexts(
        [bytes([i]) for i in range(10)], [str(i % 2) for i in range(10)], "x", False
    )
    train, test = split_holdout(data, 0.3, seed=0)
    assert len(train) == 7 and len(test) == 3
    assert sorted(train.texts + test.texts) == sorted(data.texts)
    assert split_holdout(data, 0.3, seed=0)[1].texts == test.texts
    capped = cap_rows(data, 4, seed=1)
    assert len(capped) == 4 and capped.texts == sorted(capped.texts)  # file order kept
    with pytest.raises(BitbenchError, match="test-fraction"):
        split_holdout(data, 1.5, seed=0)


def test_shared_sentiment_files_parse(shared_data):
    dev = read_labelled(shared_data / "cls_sst2" / "dev.tsv")
    assert dev.header and len(dev) == 872 and set(dev.labels) == {"0", "1"}
    test = read_labelled(shared_data / "cls_sst2" / "test-labeled.tsv")
    assert len(test) == 1821 and not any(t.endswith(b"\r") for t in test.texts)
    chn = read_labelled(shared_data / "cls_chnsenticorp" / "ChnSentiCorp_htl_all.csv")
    assert len(chn) == 7766 and chn.labels.count("1") == 5322 and chn.labels.count("0") == 2444
