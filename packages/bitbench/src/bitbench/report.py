"""Markdown reports: one run's evaluation (report.md) and a comparison of runs (compare.md),
paper-ready tables with short explanations and the command that produced them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bitbench.flops import format_flops


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: '-' for missing, fixed digits for floats, thousands separators for ints."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(fmt(v) if not isinstance(v, str) else v for v in row) + " |")
    return "\n".join(lines)


EXPLANATIONS = {
    "acc_bit": "accuracy of the bit head on bits hidden by a 15% bit mask (alone)",
    "acc_byte": "accuracy of the 256-way byte head on bytes hidden by a 20% byte mask",
    "acc_word": "same, on bytes of whole units hidden by a 25% word mask (units from the model's boundaries)",
    "acc_phrase": "same, on bytes of unit spans hidden by a 30% phrase mask",
    "bpb": "-log2 p(hidden bytes | visible context) per hidden byte under the first protocol, chain rule inside each hidden span (the same hidden bytes for every model kind: see hidden_digest)",
    "bpb_one_pass": "the same with every hidden unit predicted at once (independently)",
    "boundary_precision": "share of predicted unit starts that are gold word starts",
    "boundary_recall": "share of gold word starts predicted as unit starts",
    "boundary_f1": "predicted unit starts vs gold word starts, at non-space positions except each sequence's first byte",
    "word_precision": "share of predicted words (`bitlab segment`'s output) paired with an identical gold word, as the official SIGHAN script counts (LCS per line)",
    "word_recall": "share of gold words paired with an identical predicted word (SIGHAN script)",
    "word_f1": "SIGHAN word F of word precision and recall",
    "oov_rate": "share of gold words not in the training word list (--dict)",
    "oov_recall": "word recall over the gold words not in the training word list",
    "iv_recall": "word recall over the gold words in the training word list",
    "consistency_auc": "P(two occurrences of the same word are closer, by cosine of centred mean-pooled byte states, than two different words); read against the control",
    "consistency_auc_control": "the same for this configuration with fresh (untrained) weights: what identical bytes alone give",
    "flops_per_byte": "forward FLOPs per byte at the evaluation window length",
}


def render_eval_report(
    metrics: dict[str, Any], command: str | None = None, plots: Sequence[str] = ()
) -> str:
    """report.md for one run."""
    s = metrics.get("settings", {})
    out = [f"# Evaluation of `{metrics.get('run')}`", ""]
    where = (
        f"Corpus: `{metrics['corpus']}` (val split, {s.get('windows')} windows of "
        f"{s.get('seq_len')} bytes, seed {s.get('seed')})."
        if metrics.get("corpus")
        else "No corpus (boundary metrics only)."
    )
    out.append(
        f"Model: **{metrics.get('kind')}** ({fmt(metrics.get('num_params'))} parameters, "
        f"{fmt(metrics.get('lookup_params'))} of them in lookup tables: memory, no FLOPs). {where}"
        + (f" Gold segmentation: `{metrics['gold_seg']}`." if metrics.get("gold_seg") else "")
    )
    out += ["", "## Main metrics", ""]
    keys = [
        "bpb", "bpb_one_pass", "acc_bit", "acc_byte", "acc_word", "acc_phrase",
        "boundary_precision", "boundary_recall", "boundary_f1",
        "word_precision", "word_recall", "word_f1", "oov_rate", "oov_recall", "iv_recall",
        "consistency_auc", "consistency_auc_control", "flops_per_byte",
    ]  # fmt: skip
    rows = [(f"`{k}`", metrics.get(k), EXPLANATIONS.get(k, "")) for k in keys if k in metrics]
    out.append(markdown_table(["metric", "value", "meaning"], rows))
    protocols = metrics.get("protocols") or {}
    if protocols:
        out += ["", "## bpb per evaluation protocol", ""]
        prows = [
            (f"`{name}`", e.get("units"), e.get("bpb"), e.get("bpb_one_pass"), e.get("hidden_bytes"),
             e.get("hidden_spans"), f"`{e.get('hidden_digest')}`")
            for name, e in protocols.items()
        ]  # fmt: skip
        out.append(markdown_table(["protocol", "units hidden", "bpb (chain)", "bpb (one pass)",
                                   "hidden bytes", "spans", "hidden_digest"], prows))  # fmt: skip
        out += ["", "Every model kind evaluated on this corpus and seed hides exactly these bytes "
                "(equal hidden_digest); '-' = the protocol does not apply (bytes: token models)."]  # fmt: skip
    if metrics.get("boundary_threshold") is not None:
        out += [
            "",
            f"Boundary threshold {fmt(metrics['boundary_threshold'])} "
            f"({metrics.get('boundary_rule', 'mean length')}; gold: "
            f"{metrics.get('boundary_gold')}); predicted units average "
            f"{fmt(metrics.get('predicted_unit_bytes'))} bytes, gold words "
            f"{fmt(metrics.get('gold_word_bytes'))} bytes (without spaces).",
        ]
    seg = metrics.get("segmenter")
    if seg:
        out += [
            "",
            f"Segmenter: decoder `{seg.get('method')}` (words of at most "
            f"{seg.get('max_word_atoms')} atoms, length prior weight {fmt(seg.get('prior_weight'))} "
            f"with mean {fmt(seg.get('prior_mean_atoms'))}), rules `{seg.get('rules')}`, signal "
            f"`{metrics.get('settings', {}).get('signal', 'head')}`, calibrated to "
            f"{fmt(seg.get('target_unit_bytes'))} bytes per word; "
            f"{fmt(metrics.get('gold_words'))} gold words, {fmt(metrics.get('predicted_words'))} "
            "predicted.",
        ]
    table = metrics.get("table")
    comp = metrics.get("compression") or {}
    if table:
        out += ["", f"## Encoding table ({table['source']}) vs byte-level BPE of the same size", ""]
        trows = []
        for row in table["levels"]:
            t, b = row["table"], row.get("bpe") or {}
            trows.append(
                (
                    f"L{row['level']}", t["vocab_size"], t["bytes_per_code"], b.get("bytes_per_code"),
                    t["code_entropy_bits"], b.get("code_entropy_bits"),
                    t["entropy_bits_per_byte"], b.get("entropy_bits_per_byte"), t["roundtrip_exact"],
                )
            )  # fmt: skip
        out.append(
            markdown_table(
                [
                    "level",
                    "vocab",
                    "bytes/code",
                    "BPE bytes/token",
                    "code entropy (bits)",
                    "BPE entropy (bits)",
                    "table bits/byte",
                    "BPE bits/byte",
                    "round trip exact",
                ],
                trows,
            )
        )
        out += [
            "",
            "bits/byte here is the ideal entropy-coded size: code entropy / bytes per code (unigram "
            "over codes; no context).",
        ]
    if comp:
        out += [
            "",
            f"General-purpose compressors on the same {fmt(comp.get('num_bytes'))} val bytes: "
            f"gzip -9 {fmt(comp.get('gzip'))}, xz -9 {fmt(comp.get('xz'))}, zstd -19 "
            f"{fmt(comp.get('zstd'))} bits per byte.",
        ]
    train = metrics.get("training") or {}
    if any(v is not None for v in train.values()):
        out += [
            "",
            "## Training budget",
            "",
            f"{fmt(train.get('steps'))} steps x batch {fmt(train.get('batch_size'))} x "
            f"{fmt(train.get('seq_len'))} bytes: {format_flops(train.get('train_flops'))} "
            "(3 x forward FLOPs per byte).",
        ]
    if plots:
        out += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    if command:
        out += ["", "## Reproduce", "", "```", command, "```"]
    return "\n".join(out) + "\n"


COMPARE_COLUMNS = (
    ("run", "name"),
    ("kind", "kind"),
    ("params", "num_params"),
    ("lookup params", "lookup_params"),
    ("train FLOPs", "train_flops"),
    ("FLOPs/byte", "flops_per_byte"),
    ("protocol", "protocol"),
    ("bpb", "bpb"),
    ("bpb one pass", "bpb_one_pass"),
    ("bpb words", "bpb_words"),
    ("bpb tokens", "bpb_tokens"),
    ("bpb bytes", "bpb_bytes"),
    ("val bpb at common FLOPs", "bpb_at_common_flops"),
    ("acc_byte", "acc_byte"),
    ("acc_word", "acc_word"),
    ("boundary F1", "boundary_f1"),
    ("consistency AUC", "consistency_auc"),
    ("(untrained control)", "consistency_auc_control"),
    ("table L2 bytes/code", "table_l2_bytes_per_code"),
)


def render_compare_report(
    rows: Sequence[dict[str, Any]], command: str | None = None, plot: str | None = None
) -> str:
    """compare.md: one row per run."""
    out = ["# Run comparison", ""]
    cells = []
    for row in rows:
        cells.append(
            [
                format_flops(row.get(key)) if key == "train_flops" else row.get(key)
                for _, key in COMPARE_COLUMNS
            ]
        )
    out.append(markdown_table([h for h, _ in COMPARE_COLUMNS], cells))
    out += [
        "",
        "bpb: -log2 p(hidden bytes | visible context) per hidden byte on the val split under the "
        "named protocol, chain rule inside each hidden span (one pass: all at once); every run "
        "hides the same bytes (hidden_digest in compare.json). Lower is better. Training FLOPs: "
        "as logged (every forward counted), else steps x batch x window bytes x 3 x forward "
        "FLOPs per byte. 'val bpb at common FLOPs': each run's validation bpb interpolated at the "
        "largest budget all runs reached"
        + (
            f" ({format_flops(rows[0].get('common_flops'))})"
            if rows and rows[0].get("common_flops")
            else ""
        )
        + ". '-' = not measurable for that model.",
    ]
    if plot:
        out += ["", f"![validation bpb vs training FLOPs and wall-clock]({plot})"]
    if command:
        out += ["", "```", command, "```"]
    return "\n".join(out) + "\n"
