"""Reports and plots from hand-made metrics (no model needed)."""

from __future__ import annotations

import itertools

import numpy as np
from bitbench.compare import compare_row
from bitbench.plots import (
    plot_accuracy_over_training,
    plot_boundary_view,
    plot_bpb_vs_flops,
    plot_rank_frequency,
)
from bitbench.report import fmt, markdown_table, render_compare_report, render_eval_report

PNG = b"\x89PNG\r\n\x1a\n"


def test_fmt_and_markdown_table():
    assert fmt(None) == "-" and fmt(float("nan")) == "-"
    assert fmt(0.12345) == "0.123" and fmt(1234567) == "1,234,567" and fmt(True) == "yes"
    assert fmt(2.5e-5) == "2.5e-05"
    table = markdown_table(["a", "b"], [["x", 1.5], ["y", None]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x | 1.500 |", "| y | - |"]


METRICS = {
    "run": "/runs/tiny",
    "kind": "bitswin",
    "num_params": 1000,
    "lookup_params": 300,
    "corpus": "/c.zarr",
    "gold_seg": None,
    "settings": {"windows": 4, "seq_len": 64, "seed": 0},
    "bpb": 2.5,
    "acc_byte": 0.4,
    "boundary_f1": 0.8,
    "boundary_threshold": 1.25,
    "boundary_gold": "whitespace",
    "table": {
        "source": "run",
        "levels": [
            {
                "level": 2,
                "table": {
                    "vocab_size": 300,
                    "bytes_per_code": 3.0,
                    "code_entropy_bits": 6.0,
                    "entropy_bits_per_byte": 2.0,
                    "roundtrip_exact": True,
                },
                "bpe": {
                    "bytes_per_code": 2.5,
                    "code_entropy_bits": 6.5,
                    "entropy_bits_per_byte": 2.6,
                },
            }
        ],
    },
    "compression": {"num_bytes": 100, "gzip": 3.1, "xz": 2.9, "zstd": 2.95},
    "training": {"steps": 10, "batch_size": 4, "seq_len": 64, "train_flops": 2.5e12},
}


def test_eval_report_has_the_numbers_and_command():
    text = render_eval_report(METRICS, "bitlab eval /runs/tiny --corpus /c.zarr", ["a.png"])
    assert "| `bpb` | 2.500 |" in text
    assert "| L2 | 300 | 3.000 | 2.500 | 6.000 | 6.500 | 2.000 | 2.600 | yes |" in text
    assert "gzip -9 3.100" in text and "2.5 TFLOP" in text
    assert "(1,000 parameters, 300 of them in lookup tables" in text
    assert "bitlab eval /runs/tiny --corpus /c.zarr" in text and "![a.png](a.png)" in text


def test_compare_row_and_report():
    row = compare_row("tiny", METRICS)
    assert row["table_l2_bytes_per_code"] == 3.0 and row["bpe_l2_bytes_per_code"] == 2.5
    assert row["train_flops"] == 2.5e12 and row["bpb"] == 2.5
    text = render_compare_report([row], "bitlab compare x", "p.png")
    assert "| tiny | bitswin | 1,000 | 300 | 2.5 TFLOP |" in text


def test_char_labels_fall_back_to_code_points():
    from bitbench.plot_fonts import LabelFont, char_label, needs_cjk

    latin = LabelFont("none", "latin", frozenset(map(ord, "ae\u00e9\u2423")))
    assert [char_label(c, latin) for c in "a é\n中\x01"] == [
        "a", "␣", "\u00e9", "\\n", "U+4E2D", "x01",
    ]  # fmt: skip
    cjk = LabelFont("none", "cjk", frozenset(map(ord, "中")))
    assert char_label("中", cjk) == "中"
    assert needs_cjk(["a", "中"]) and not needs_cjk(["a", "é"])


def test_code_point_labels_do_not_overlap(monkeypatch):
    """Without a CJK font every Han character is labelled by its code point: turned upright at a
    smaller size, neighbouring labels stay apart (upright six-character labels ran together)."""
    import bitbench.plots as plots
    from bitbench.plot_fonts import label_font, tick_style
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    monkeypatch.setattr(plots, "label_font", lambda cjk=True: label_font(cjk=False))
    text = "共同创造美好的新世纪——二○○一年新年贺词1张"
    sentence = {
        "chars": list(text),
        "scores": np.linspace(-1, 1, len(text)),
        "predicted": np.arange(len(text)) % 2 == 0,
        "gold": np.arange(len(text)) % 3 == 0,
    }
    fig = plots.boundary_view_figure({"sentences": [sentence], "threshold": 0.0})
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    (ax,) = fig.axes
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    assert labels[0].get_text() == "U+5171" and labels[0].get_rotation() == 90
    boxes = sorted((b.x0, b.x1) for b in (t.get_window_extent(renderer) for t in labels))
    assert all(right <= left for (_, right), (left, _) in itertools.pairwise(boxes))
    assert tick_style(["共", "\\n"])["rotation"] == 0  # characters themselves stay upright


def test_plots_write_pngs_or_nothing(tmp_path):
    log = [{"step": s, "acc_byte": s / 10, "val/acc_bit": 0.5} for s in range(5)]
    assert plot_accuracy_over_training(log, tmp_path / "acc.png").read_bytes()[:8] == PNG
    assert plot_accuracy_over_training([{"step": 1, "loss": 2.0}], tmp_path / "none.png") is None
    off = [{"kind": "train", "step": s, "acc_word": 0.0} for s in range(3)]
    assert plot_accuracy_over_training(off, tmp_path / "off.png") is None  # never switched on
    sentence = {
        "chars": list("共同创造 a1"),
        "scores": np.array([1.0, 0, 0.9, 0.2, np.nan, 1.0, np.nan]),
        "predicted": np.array([1, 0, 1, 0, 0, 1, 0], bool),
        "gold": np.array([1, 0, 1, 0, 0, 1, 0], bool),
    }
    sample = {"sentences": [sentence, sentence], "threshold": 0.5}
    assert plot_boundary_view(sample, tmp_path / "b.png").read_bytes()[:8] == PNG
    assert plot_boundary_view({"sentences": []}, tmp_path / "none.png") is None
    codes = {"table L2": np.array([1, 1, 2, 3]), "BPE 300": np.array([5, 5, 5])}
    assert plot_rank_frequency(codes, tmp_path / "r.png").read_bytes()[:8] == PNG
    rows = [{"name": "a", "kind": "bitswin", "bpb": 2.0, "train_flops": 1e12},
            {"name": "b", "kind": "bpe", "bpb": None, "train_flops": 1e12}]  # fmt: skip
    assert plot_bpb_vs_flops(rows, [], tmp_path / "f.png").read_bytes()[:8] == PNG
    assert plot_bpb_vs_flops(rows[1:], [], tmp_path / "g.png") is None
    assert not list(tmp_path.glob(".*"))  # no temp files left
