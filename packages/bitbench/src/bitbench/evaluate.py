"""``evaluate_run``: every DESIGN.md metric for one run, as one JSON-ready dict (``bitlab eval``).

On the corpus's ``val`` split, a fixed seed, N windows of L bytes (``EvalSettings``):
bpb under each evaluation protocol (bittrain.hidden.spans: the same hidden bytes for every model
kind, ``hidden_digest``; chain rule inside each span, the one-pass version beside it; bitbench.
protocol_scores), acc_bit/acc_byte/acc_word/acc_phrase (each level alone), boundary
P/R/F1 (whitespace gold, or ``gold_seg``: a segmented file), consistency AUC, encoding-table
statistics per level against a byte-level BPE of the same vocabulary size and against
gzip/xz/zstd, forward FLOPs per byte, and the training budget read from the run. Metrics a model
cannot give (a baseline has no boundary head) are None; a headline ``bpb`` that scored nothing
(no byte hidden: windows too short) is an error, not a result.

``write_outputs`` writes only into a folder that is bitlab's (``bitbench.eval_folder``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bitbaselines.bpe import REFERENCE_VOCAB
from bitcodec.corpus_reader import open_corpus  # (not re-exported by bitcodec yet)
from bittrain.engine.contracts import HasBoundaries, ScoresHiddenBytes
from bittrain.engine.modules import lookup_parameters
from bittrain.fileio import clean_for_json, write_json_atomic, write_text_atomic
from bittrain.hidden.spans import resolve_protocols
from bittrain.reference_bpe import reference_bpe
from bittrain.runs import (
    RunInfo,
    find_setting,
    inspect_run,
    load_model,
    read_metrics_log,
    read_run_config,
)

from bitbench.boundaries import (
    evaluate_boundaries,
    evaluate_consistency,
    evaluate_segmented,
    read_gold_words,
    segmented_rows,
    sentence_sample,
    untrained_like,
    whitespace_rows,
    window_sample,
)
from bitbench.compression import compression_baselines
from bitbench.errors import BitbenchError
from bitbench.eval_folder import check_out_dir
from bitbench.flops import training_flops
from bitbench.metrics import gold_starts
from bitbench.plots import plot_accuracy_over_training, plot_boundary_view, plot_rank_frequency
from bitbench.protocol_metrics import protocol_metrics
from bitbench.report import render_eval_report
from bitbench.seg_decode import DecodeOptions
from bitbench.seg_rules import SegmentRules
from bitbench.seg_signals import (
    MASK_SIGNALS,
    SIGNALS,
    TEXT_SIGNALS,
    make_scorer,
    parse_signal,
)
from bitbench.sighan import read_word_list
from bitbench.tables import grow_table, load_table, table_report

log = logging.getLogger(__name__)

METRICS_VERSION = 2  # 2: protocols, hidden_digest, chain-rule bpb, consistency control
LEVEL_KEYS = ("acc_bit", "acc_byte", "acc_word", "acc_phrase")
# Stages reported to the progress callback, in order.
STAGES = ("load", "bpb", "levels", "boundaries", "consistency", "table", "compression", "flops")


@dataclass(frozen=True)
class EvalSettings:
    """What is measured and on how much text (all of it is recorded in metrics.json)."""

    windows: int = 64  # val windows
    seq_len: int = 512  # bytes per window
    seed: int = 0
    mask_rate: float = 0.15  # share of the protocol's units hidden for bpb
    protocols: tuple[str, ...] = ("words", "tokens", "bytes")  # the first one gives "bpb"
    reference_vocab: int = REFERENCE_VOCAB  # entries of the reference BPE (tokens / words)
    threshold: float | None = None  # boundary threshold; None = match the run's unit length
    text_bytes: int = 1 << 20  # contiguous val bytes for table / BPE / compressors
    table_windows: int = 256  # train windows to grow a table when the run has none
    consistency_occurrences: int = 2000
    gold_lines: int | None = None  # first N lines of --gold-seg (None = all)
    # --gold-seg: how lines become words (bitlab segment's options; threshold above wins)
    segmenter: DecodeOptions = field(default_factory=DecodeOptions)
    rules: str = "all"  # seg_rules.SegmentRules.parse
    signal: str = "head"  # seg_signals: which model score decides the cuts
    chain: bool = True  # seg_signals: mask signals score a character's bytes by the chain rule

    def __post_init__(self) -> None:
        if isinstance(self.segmenter, dict):  # from as_dict() / metrics.json
            object.__setattr__(self, "segmenter", DecodeOptions(**self.segmenter))
        object.__setattr__(self, "protocols", resolve_protocols(self.protocols))
        for name in ("windows", "seq_len", "text_bytes", "table_windows"):
            if getattr(self, name) < 1:
                raise BitbenchError(f"{name} is {getattr(self, name)}: it must be >= 1")
        if self.gold_lines is not None and self.gold_lines < 1:
            raise BitbenchError(
                f"gold_lines is {self.gold_lines}: use >= 1 (or leave it out for all)"
            )
        if not 0.0 < self.mask_rate < 1.0:
            raise BitbenchError(f"mask rate {self.mask_rate} is outside (0, 1): use e.g. 0.15")
        self.segment_rules()  # a bad rule list or signal fails here, before any work
        if self.signal not in SIGNALS:
            raise BitbenchError(f"unknown signal '{self.signal}': use one of {', '.join(SIGNALS)}")
        if self.signal in TEXT_SIGNALS:
            raise BitbenchError(
                f"signal '{self.signal}' reads raw text: use bitlab segment --signal "
                f"{self.signal} --corpus TEXT --file F --gold GOLD"
            )

    def segment_rules(self) -> SegmentRules:
        return SegmentRules.parse(self.rules)

    def decode_options(self) -> DecodeOptions:
        """The segmenter's options, with ``threshold`` (when given) as its centre."""
        if self.threshold is None:
            return self.segmenter
        return dataclasses.replace(self.segmenter, threshold=self.threshold)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Evaluation:
    """The metrics (JSON) and the arrays the plots need (not saved)."""

    metrics: dict[str, Any]
    plot_data: dict[str, Any] = field(default_factory=dict)


def _stage(progress: Callable[[str], None] | None, name: str) -> None:
    if progress is not None:
        progress(name)


def training_budget(info: RunInfo, flops_per_byte: float | None) -> dict[str, Any]:
    """Steps, batch, window length and training FLOPs from metrics.jsonl and config.toml."""
    records = read_metrics_log(info.metrics_path)
    config = read_run_config(info)
    steps = max(
        (int(r["step"]) for r in records if isinstance(r.get("step"), (int, float))), default=None
    )
    batch = find_setting(config, "global_batch_size", "batch_size", "batch")
    seq_len = find_setting(config, "seq_len", "seq_len_bytes", "window_bytes")
    logged = [
        r[k]
        for r in records
        for k in ("train_flops", "flops")
        if isinstance(r.get(k), (int, float))
    ]
    flops: float | None = float(logged[-1]) if logged else None
    if flops is None and None not in (steps, batch, seq_len, flops_per_byte):
        try:
            flops = training_flops(int(steps), int(batch), int(seq_len), float(flops_per_byte))
        except (TypeError, ValueError, BitbenchError):
            flops = None
    return {"steps": steps, "batch_size": batch, "seq_len": seq_len, "train_flops": flops}


def _val_text(corpus: Any, settings: EvalSettings) -> bytes:
    split = corpus.val
    length = min(settings.text_bytes, int(split.num_bytes))
    window, _ = split.sample_windows(1, length, np.random.default_rng(settings.seed))
    return window[0].tobytes()


def evaluate_run(
    run_dir: str | Path,
    *,
    corpus: str | Path | None = None,
    gold_seg: str | Path | None = None,
    settings: EvalSettings | None = None,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
    word_list: str | Path | None = None,
) -> Evaluation:
    """Measure a run (see the module doc). At least one of ``corpus`` / ``gold_seg`` is needed;
    ``word_list`` (the training words, with ``gold_seg``) adds OOV rate and OOV/IV recall."""
    settings = settings or EvalSettings()
    if corpus is None and gold_seg is None:
        raise BitbenchError("nothing to evaluate on: pass --corpus STORE and/or --gold-seg FILE")
    if word_list is not None and gold_seg is None:
        raise BitbenchError("--dict WORDS needs --gold-seg FILE: OOV rates are of gold words")
    dictionary = read_word_list(word_list) if word_list is not None else None
    _stage(progress, "load")
    info = inspect_run(run_dir)
    model = load_model(info, device=device)
    is_bitswin = isinstance(model, HasBoundaries)
    opened = None
    if corpus is not None:
        opened = open_corpus(corpus)
    gold_words = read_gold_words(gold_seg, settings.gold_lines) if gold_seg is not None else None
    gold_lines = [gold_starts(words) for words in gold_words] if gold_words is not None else None

    metrics: dict[str, Any] = {
        "version": METRICS_VERSION,
        "run": str(Path(info.run_dir).resolve()),
        "kind": model.kind,
        "model_type": info.model_type,
        "corpus": str(Path(corpus).resolve())
        if corpus is not None and "://" not in str(corpus)
        else corpus,
        "gold_seg": str(Path(gold_seg).resolve()) if gold_seg is not None else None,
        "word_list": str(Path(word_list).resolve()) if word_list is not None else None,
        "settings": settings.as_dict(),
        "num_params": model.num_params,
        "lookup_params": lookup_parameters(model.model),  # of num_params: tables, no FLOPs
        "protocol": settings.protocols[0],
        "bpb": None,
        "bpb_one_pass": None,
        "hidden_digest": None,
        "masked_bytes": None,
        "protocols": None,
        **dict.fromkeys(LEVEL_KEYS),
        "boundary_precision": None,
        "boundary_recall": None,
        "boundary_f1": None,
        "consistency_auc": None,
        "consistency_auc_control": None,
        "table": None,
        "compression": None,
    }
    plot_data: dict[str, Any] = {"run_dir": info.run_dir}

    windows = doc_starts = None
    if opened is not None:
        rng = np.random.default_rng(settings.seed)
        windows, doc_starts = opened.val.sample_windows(settings.windows, settings.seq_len, rng)
    _stage(progress, "bpb")
    if windows is not None:
        metrics.update(
            protocol_metrics(
                model,
                opened.train,
                windows,
                doc_starts,
                protocols=settings.protocols,
                seed=settings.seed,
                rate=settings.mask_rate,
                reference_vocab=settings.reference_vocab,
                gold_lines=gold_lines,
                seq_len=settings.seq_len,
            )
        )

        _check_scored(metrics, settings)

    _stage(progress, "levels")
    boundary_cache = None
    if windows is not None and is_bitswin:
        boundary_cache = model.boundary_scores(windows, doc_starts=doc_starts)
        levels = model.level_accuracies(
            windows, seed=settings.seed, doc_starts=doc_starts, boundaries=boundary_cache
        )
        metrics.update({k: levels[k] for k in LEVEL_KEYS})
        metrics["masked_counts"] = {k[4:]: levels[f"n_{k[4:]}"] for k in LEVEL_KEYS}

    _stage(progress, "boundaries")
    rows = None
    if gold_words is not None:
        rows = segmented_rows(gold_lines, settings.seq_len)
        if can_segment(model, settings.signal):
            seg = _segmented_metrics(model, gold_words, settings, dictionary)
            metrics.update(seg.metrics)
            metrics["boundary_gold"] = "segmented"
            plot_data["boundary_sample"] = sentence_sample(seg)
    elif windows is not None:
        rows = whitespace_rows(windows, doc_starts)
        if is_bitswin:
            target = float(model.target_unit_bytes)
            # A model with units of its own is scored on them (its router's starts), unless a
            # threshold is given; others at the cut that matches the run's unit length.
            own = model.own_starts_threshold
            if settings.threshold is not None:
                threshold, rule = settings.threshold, "threshold"
            elif own is not None:
                threshold, rule = own, "model units"
            else:
                threshold, rule = None, "mean length"
            result = evaluate_boundaries(
                rows, boundary_cache, threshold=threshold, target_unit_bytes=target
            )
            metrics.update(result)
            metrics["boundary_rule"] = rule
            metrics["boundary_gold"] = rows.source
            plot_data["boundary_sample"] = window_sample(
                rows, boundary_cache, result["boundary_threshold"]
            )

    _stage(progress, "consistency")
    if rows is not None:
        metrics.update(
            evaluate_consistency(
                model,
                rows,
                max_occurrences=settings.consistency_occurrences,
                seed=settings.seed,
                control=untrained_like(model),
            )
        )

    _stage(progress, "table")
    text = _val_text(opened, settings) if opened is not None else None
    if text:
        table_part = _table_metrics(info, model, opened, text, settings, is_bitswin)
        if table_part is not None:
            metrics["table"], plot_data["codes"] = table_part

    _stage(progress, "compression")
    if text:
        metrics["compression"] = {"num_bytes": len(text), **compression_baselines(text)}

    _stage(progress, "flops")
    metrics["flops_per_byte"] = float(model.flops_per_byte(settings.seq_len))
    metrics["training"] = training_budget(info, _train_flops_per_byte(model, info))
    plot_data["metrics_log"] = read_metrics_log(info.metrics_path)
    return Evaluation(metrics, plot_data)


def _check_scored(metrics: dict[str, Any], settings: EvalSettings) -> None:
    """An evaluation that scored nothing is an error, not a number (no metrics.json is
    written): windows too short to hide a byte under the headline protocol, or no protocol
    this kind can score. A headline protocol the kind cannot score (``bytes`` for a token
    model) stays null beside the protocols it did score, as `compare` shows it."""
    if metrics.get("bpb") is not None:
        return
    protocol = settings.protocols[0]
    entry = (metrics.get("protocols") or {}).get(protocol) or {}
    if not metrics.get("masked_bytes"):
        raise BitbenchError(
            f"nothing was scored: protocol '{protocol}' hid no byte in {settings.windows} val "
            f"windows of {settings.seq_len} bytes: use longer or more windows (--seq-len, "
            f"--windows; default {EvalSettings.seq_len} and {EvalSettings.windows})"
        )
    if any(metrics.get(f"bpb_{p}") is not None for p in settings.protocols[1:]):
        return
    raise BitbenchError(
        f"nothing was scored: protocol '{protocol}' cannot score this {metrics.get('kind')} "
        f"model ({entry.get('note', 'no score')}): ask for another (--protocol tokens)"
    )


def _train_flops_per_byte(model: Any, info: RunInfo) -> float | None:
    """Forward FLOPs per byte at the run's training window length (None if unknown)."""
    seq_len = find_setting(read_run_config(info), "seq_len", "seq_len_bytes", "window_bytes")
    try:
        return float(model.flops_per_byte(int(seq_len))) if seq_len else None
    except (TypeError, ValueError):
        return None


def _table_metrics(
    info: RunInfo, model: Any, corpus: Any, text: bytes, settings: EvalSettings, is_bitswin: bool
) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    if info.table_dir is not None:
        table, source = load_table(info.table_dir), "run"
    elif is_bitswin:
        rng = np.random.default_rng(settings.seed + 1)
        length = min(settings.seq_len, int(corpus.train.num_bytes))
        train_windows, train_starts = corpus.train.sample_windows(
            settings.table_windows, length, rng
        )
        table, source = grow_table(model, train_windows, train_starts), "grown"
    else:
        return None
    rows, codes = table_report(
        table,
        [text],
        bpe_for=lambda vocab: reference_bpe(corpus.train, vocab),
    )
    return {"source": source, "levels": rows}, codes


def can_segment(model: Any, signal: str) -> bool:
    """Does the model give what the signal reads (the boundary head, or masked byte scores)?"""
    parts = parse_signal(signal)
    head_ok = "head" not in parts or isinstance(model, HasBoundaries)
    masks_ok = not any(p in MASK_SIGNALS for p in parts) or isinstance(model, ScoresHiddenBytes)
    return head_ok and masks_ok


def _segmented_metrics(
    model: Any, gold_words: list[list[str]], settings: EvalSettings, dictionary: Any
) -> Any:
    """``boundaries.evaluate_segmented`` with the settings' segmenter, rules and signal."""
    return evaluate_segmented(
        model,
        gold_words,
        options=settings.decode_options(),
        rules=settings.segment_rules(),
        seq_len=settings.seq_len,
        dictionary=dictionary,
        scorer=make_scorer(model, settings.signal, settings.seq_len, chain=settings.chain),
    )


def default_out_dir(run_dir: str | Path) -> Path:
    info = inspect_run(run_dir)
    return info.run_dir / "eval"


def write_outputs(
    evaluation: Evaluation, out_dir: str | Path, command: str | None = None
) -> dict[str, Path]:
    """metrics.json (atomic), report.md and the PNG plots into ``out_dir`` (checked by
    ``check_out_dir``); returns their paths."""
    out = Path(out_dir)
    check_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    data = evaluation.plot_data
    written: dict[str, Path] = {}
    made = {
        "accuracy_over_training": plot_accuracy_over_training(
            data.get("metrics_log", []), out / "accuracy_over_training.png"
        ),
        "boundary_view": plot_boundary_view(data["boundary_sample"], out / "boundary_view.png")
        if "boundary_sample" in data
        else None,
        "table_rank_frequency": plot_rank_frequency(data["codes"], out / "table_rank_frequency.png")
        if "codes" in data
        else None,
    }
    written.update({k: v for k, v in made.items() if v is not None})
    metrics = clean_for_json({**evaluation.metrics, "command": command})
    evaluation.metrics["command"] = command
    write_json_atomic(out / "metrics.json", metrics)
    written["metrics"] = out / "metrics.json"
    report = render_eval_report(
        metrics, command, [p.name for k, p in written.items() if k != "metrics"]
    )
    write_text_atomic(out / "report.md", report)
    written["report"] = out / "report.md"
    return written
