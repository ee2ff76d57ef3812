"""What ``bitlab qa`` writes: qa.json, report.md and qa_f1_by_length.png (all atomic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bittrain.figures import colour_cycle, new_figure, save_figure
from bittrain.fileio import clean_for_json, write_json_atomic, write_text_atomic

from bitbench.out_dir import out_directory
from bitbench.report import markdown_table

PLOT = "qa_f1_by_length.png"
METRIC_NAMES = {
    "squad": "SQuAD EM/F1 (lower case, ASCII punctuation and a/an/the removed, whitespace "
    "collapsed; token F1; max over gold answers)",
    "cmrc": "CMRC 2018 EM/F1 (lower case; CJK characters and other non-punctuation runs as "
    "units, punctuation removed; F1 of the longest common run of units; max over gold answers)",
}
MODE_NOTES = {
    "probe": "frozen encoder, start/end head fitted on the training windows",
    "finetune": "encoder and head trained together on the training windows",
    "cloze": "no head: the answer hidden in its context (question prepended) and filled by the "
    "masked LM; a known-length cloze (one mask per answer byte for byte models, one [MASK] per "
    "answer token for token models)",
}


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def _floor_for(result: dict[str, Any], mode: str) -> tuple[Any, Any]:
    """(EM, F1) of the window floor on the questions ``mode`` was asked (the cloze asks only
    the answerable ones)."""
    window = result["floors"]["window"]
    if mode == "cloze":
        return window["has_ans_exact"], window["has_ans_f1"]
    return window["exact"], window["f1"]


def render_report(result: dict[str, Any]) -> str:
    data = result["data"]
    split = data["split"]
    settings = result["settings"]
    win = settings["windows"]
    lines = ["# Question answering", ""]
    for f in data["files"]:
        lines.append(
            f"- `{f['path']}` (version {f['version'] or '-'}): {f['articles']:,} articles, "
            f"{f['questions']:,} questions; answer_start converted from UTF-16 offsets: "
            f"{f['utf16_offsets_converted']}, gold answers without a location (scored, not "
            f"trained on): {f['unlocated_answers_scored_only']}, questions dropped (no gold "
            f"answer in the context): {len(f['dropped_questions'])}"
            + (f" ({', '.join(f['dropped_questions'][:10])})" if f["dropped_questions"] else "")
        )
    titles = split["test_titles"]
    shown = ", ".join(titles[:16]) + (f", ... ({len(titles)} in all)" if len(titles) > 16 else "")
    lines += [
        "",
        f"**Metric**: {METRIC_NAMES[data['metric']]}. Scores in percent.",
        "",
        f"**Split** {split['rule']}: {split['train_articles']} training articles "
        f"({split['train_questions']:,} questions), {split['test_articles']} test articles "
        f"({split['test_questions']:,} questions): {shown}. Used: "
        f"{data['train_questions_used']:,} training and {data['test_questions_used']:,} test "
        f"questions ({data['test_unanswerable']} of them unanswerable). Not asked: "
        + "; ".join(f"{k}: {v}" for k, v in data["left_out"].items())
        + ".",
        "",
        f"**Windows** (the same bytes for every model): question (at most "
        f"{win['max_question_bytes']} bytes) + separator {win['separator']!r} + context piece, "
        f"{win['length_bytes']} bytes in all; consecutive pieces overlap by about "
        f"{win['stride_bytes']} bytes; answers of at most {data['max_answer_bytes']} bytes "
        "(the training answers' 95th percentile).",
        "",
        f"**Floors**: `window` = the SQuAD paper's sliding-window word-overlap baseline with "
        f"every run of {data['floor_answer_units']} units (the median training answer) as a "
        "candidate; `first` = the context's first units"
        + ("; `empty` = no answer to any question" if data["no_answer"] else "")
        + ". Beside each row: the window floor on the same questions.",
        "",
    ]
    ft = settings["finetune"]
    lines += [
        f"**Settings**: seed {settings['seed']}; probe: L-BFGS, {settings['probe_iterations']} "
        f"iterations; finetune: {ft['epochs']} epoch(s), encoder lr {ft['encoder_lr']:g}, head "
        f"lr {ft['head_lr']:g}, {ft['batch_size']} windows a step; cloze: "
        f"{settings['cloze_steps']} fill rounds; device {result.get('device', '-')}.",
        "",
    ]
    header = ["run", "kind", "mode", "EM", "F1", "n", "HasAns EM", "HasAns F1"]
    has_no = "no_ans_n" in result["floors"]["window"]
    if has_no:
        header += ["NoAns EM", "NoAns F1"]
    header += ["floor EM", "floor F1", "seconds"]
    rows = []
    for run in result["runs"]:
        for mode, r in run["modes"].items():
            row = [run["run"], run["kind"] or "-", mode, _pct(r["exact"]), _pct(r["f1"]),
                   r["n"], _pct(r["has_ans_exact"]), _pct(r["has_ans_f1"])]  # fmt: skip
            if has_no:
                row += [_pct(r.get("no_ans_exact")), _pct(r.get("no_ans_f1"))]
            em, f1 = _floor_for(result, mode)
            rows.append([*row, _pct(em), _pct(f1), f"{r['seconds']:.0f}"])
    for name, r in result["floors"].items():
        row = [f"floor: {name}", "-", "-", _pct(r["exact"]), _pct(r["f1"]), r["n"],
               _pct(r["has_ans_exact"]), _pct(r["has_ans_f1"])]  # fmt: skip
        if has_no:
            row += [_pct(r.get("no_ans_exact")), _pct(r.get("no_ans_f1"))]
        rows.append([*row, "-", "-", "-"])
    lines += [markdown_table(header, rows), ""]
    modes = sorted({m for run in result["runs"] for m in run["modes"]}, key=list(MODE_NOTES).index)
    lines += [f"- `{m}`: {MODE_NOTES[m]}." for m in modes]
    lines += ["", f"![F1 by answer length]({PLOT})", ""]
    if result.get("command"):
        lines += ["```bash", result["command"], "```", ""]
    return "\n".join(lines)


def plot_by_length(result: dict[str, Any], path: Path) -> Path:
    """F1 by gold answer length in bytes, one line per run and mode, the window floor dashed."""
    fig = new_figure((7.5, 4.2))
    ax = fig.subplots()
    floor = result["floors"]["window"]["by_length"]
    labels = [row["bytes"] for row in floor]
    x = list(range(len(labels)))
    colours = colour_cycle()
    markers = {"probe": "o", "finetune": "s", "cloze": "^"}
    for i, run in enumerate(result["runs"]):
        for mode, r in run["modes"].items():
            ys = [row["f1"] if row["f1"] is not None else float("nan") for row in r["by_length"]]
            ax.plot(x, ys, marker=markers[mode], color=colours[i % len(colours)],
                    label=f"{run['run']} ({mode})")  # fmt: skip
    ys = [row["f1"] if row["f1"] is not None else float("nan") for row in floor]
    ax.plot(x, ys, linestyle="--", color="grey", label="floor (window)")
    ax.set_xticks(x, [f"{lab}\n(n={row['n']})" for lab, row in zip(labels, floor, strict=True)])
    ax.set_xlabel("gold answer length (UTF-8 bytes)")
    ax.set_ylabel("F1 (%)")
    ax.set_title(f"QA F1 by answer length ({result['data']['metric'].upper()} metric)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)


def write_qa_outputs(result: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    out = out_directory(out_dir)
    write_json_atomic(out / "qa.json", clean_for_json(result))
    write_text_atomic(out / "report.md", render_report(result))
    return {
        "qa.json": out / "qa.json",
        "report.md": out / "report.md",
        PLOT: plot_by_length(result, out / PLOT),
    }
