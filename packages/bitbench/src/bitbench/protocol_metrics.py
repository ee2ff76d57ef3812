"""The eval JSON's bpb part: every protocol's entry for one model (bitlab eval, compare)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from bitbaselines.bpe import REFERENCE_VOCAB
from bittrain.hidden.scores import evaluate_protocol
from bittrain.hidden.spans import DEFAULT_RATE, resolve_protocols, select_spans
from bittrain.reference_bpe import reference_bpe

from bitbench.boundaries import segmented_rows


def protocol_metrics(
    model: Any,
    train_split: Any,
    windows: np.ndarray,
    doc_starts: np.ndarray | None,
    *,
    protocols: Sequence[str],
    seed: int,
    rate: float = DEFAULT_RATE,
    reference_vocab: int = REFERENCE_VOCAB,
    gold_lines: list[tuple[bytes, np.ndarray]] | None = None,
    seq_len: int = 512,
) -> dict[str, Any]:
    """The eval JSON's bpb part: every protocol's entry (``protocols``), flat ``bpb_<p>`` and
    ``bpb_<p>_one_pass``, and for the first protocol ``bpb``, ``bpb_one_pass``,
    ``hidden_digest``, ``masked_bytes``. The reference BPE is the train split's. With gold lines
    (a segmented file), ``words`` are their gold words (spaces removed), in rows of
    ``seq_len`` bytes, as for boundary F1."""

    protocols = resolve_protocols(protocols)
    reference = None
    if set(protocols) - {"bytes"}:
        reference = reference_bpe(train_split, reference_vocab)
    per: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for protocol in protocols:
        rows_w, rows_d, rows_pad, gold = windows, doc_starts, None, None
        if protocol == "words" and gold_lines is not None:
            rows = segmented_rows(gold_lines, seq_len)
            rows_w, rows_d, rows_pad, gold = rows.windows, None, rows.pad, rows.gold
        spans = select_spans(
            protocol,
            rows_w,
            rows_d,
            seed=seed,
            reference=reference,
            rate=rate,
            pad=rows_pad,
            gold_starts=gold,
        )
        entry = evaluate_protocol(model, rows_w, spans, doc_starts=rows_d, pad=rows_pad)
        entry["text"] = "gold lines" if gold is not None else "val windows"
        per[protocol] = entry
        out[f"bpb_{protocol}"] = entry["bpb"]
        out[f"bpb_{protocol}_one_pass"] = entry["bpb_one_pass"]
    first = per[protocols[0]]
    out.update(
        protocols=per,
        bpb=first["bpb"],
        bpb_one_pass=first["bpb_one_pass"],
        hidden_digest=first["hidden_digest"],
        masked_bytes=first["hidden_bytes"],
    )
    return out
