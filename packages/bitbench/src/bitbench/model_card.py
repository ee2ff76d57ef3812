"""The model card of a run: RUN/model/README.md, written by ``bitlab eval``.

A Hugging Face Hub card (YAML metadata with ``library_name``, ``license``, ``tags`` and a
``model-index`` of the measured metrics, then Markdown) made from what the run holds: the
eval's metrics.json, RUN/config.toml (how it was trained), the corpus store's manifest (what it
was trained on) and RUN/env.json (with which code, on which machines). Numbers are only ever
copied from those files; a missing piece is said to be missing, never guessed.

bitlab writes only over its own cards: a README.md already in the model folder is replaced
only when bitlab wrote it and nobody edited it since (``bitswin.hub.is_bitlab_card``). Any
other README.md (a Hugging Face folder's own card, an edited one) is left byte for byte as it
is, and the card goes beside the evaluation instead (``OUT/model_card.md``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from bitcodec import open_corpus
from bitswin.hub import is_bitlab_card, marked_card
from bittrain.fileio import write_text_atomic
from bittrain.runs import RunInfo, read_run_config
from huggingface_hub import ModelCardData
from huggingface_hub.repocard_data import EvalResult

from bitbench.errors import BitbenchError
from bitbench.eval_folder import CARD_FILE

CARD_NAME = "README.md"
LICENSE = "apache-2.0"
_LIBRARY = {"bitswin": ("bitswin", "BitSwinModel"), "byte_mlm": ("bitbench", "ByteMLM"),
            "bpe_mlm": ("bitbench", "BpeMLM")}  # fmt: skip
# metrics.json key -> (model-index metric type, name shown on the Hub)
CARD_METRICS = {
    "bpb": ("bpb", "bits per masked byte"),
    **{f"bpb_{p}": ("bpb", f"bits per byte, protocol {p}") for p in ("words", "tokens", "bytes")},
    "acc_bit": ("accuracy", "bit accuracy (masked bits)"),
    "acc_byte": ("accuracy", "byte accuracy (masked bytes)"),
    "acc_word": ("accuracy", "byte accuracy in masked words"),
    "acc_phrase": ("accuracy", "byte accuracy in masked phrases"),
    "boundary_f1": ("f1", "word-boundary F1"),
    "word_f1": ("f1", "segmentation word F1"),
    "consistency_auc": ("roc_auc", "unit consistency AUC"),
}
TRAINING_KEYS = ("task", "model", "model_preset", "seed", "max_steps", "batch_size", "grad_accum",
                 "seq_len", "max_flops", "lr", "warmup_steps", "min_lr_ratio", "weight_decay",
                 "curriculum_unit", "boundary_source", "precision", "parallel",
                 "table_enabled", "table_codes")  # fmt: skip


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    if isinstance(value, int) and abs(value) >= 1000:
        return f"{value:,}"
    if value == "":
        return '""'
    return str(value)


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    def cell(v: Any) -> str:
        return _fmt(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def read_env(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / "env.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def corpus_manifest(corpus: str | Path | None) -> dict[str, Any] | None:
    """The corpus store's attributes (sources, counts, split rule, options), or None."""
    if corpus is None:
        return None

    return {"path": str(corpus), **dict(open_corpus(str(corpus)).attrs)}


def _dataset_name(manifest: dict[str, Any] | None, metrics: dict[str, Any]) -> str:
    where = (manifest or {}).get("path") or metrics.get("corpus") or metrics.get("gold_seg")
    return Path(str(where)).name if where else "unknown"


def card_data(
    info: RunInfo, metrics: dict[str, Any], manifest: dict[str, Any] | None
) -> ModelCardData:
    library, _ = _LIBRARY.get(info.model_type, ("bitbench", info.model_type))
    dataset = _dataset_name(manifest, metrics)
    store_id = (manifest or {}).get("store_id") or "local"
    results = [
        EvalResult(
            task_type="fill-mask",
            task_name="masked bit/byte modelling (val split)",
            dataset_type=f"bitlab-corpus/{store_id}",
            dataset_name=dataset,
            dataset_split="val",
            metric_type=kind,
            metric_name=name,
            metric_value=round(float(metrics[key]), 6),
        )
        for key, (kind, name) in CARD_METRICS.items()
        if isinstance(metrics.get(key), (int, float))
    ]
    return ModelCardData(
        library_name=library,
        license=LICENSE,
        tags=sorted(
            {"bitlab", "bit-level", "tokenizer-free", "masked-language-modeling", info.kind}
        ),
        model_name=info.run_dir.name,
        eval_results=results or None,
    )


def _evaluation(metrics: dict[str, Any]) -> str:
    settings = metrics.get("settings") or {}
    rows = [(key, metrics.get(key)) for key in CARD_METRICS if key in metrics]
    rows += [(k, metrics.get(k)) for k in ("boundary_precision", "boundary_recall",
                                           "flops_per_byte", "num_params") if k in metrics]  # fmt: skip
    protocol = metrics.get("protocol")
    what = (
        f"protocol `{protocol}`"
        if protocol
        else f"{_fmt(settings.get('mask_rate'))} of the model's units masked"
    )
    text = (
        f"Measured by `{metrics.get('command') or 'bitlab eval'}` on {settings.get('windows')} "
        f"windows of {settings.get('seq_len')} bytes from the val split (seed "
        f"{settings.get('seed')}; {what}"
        + (
            f"; hidden-bytes digest `{metrics['hidden_digest']}`"
            if metrics.get("hidden_digest")
            else ""
        )
        + "). `bpb`: -log2 p of the masked units given the rest, per byte they cover.\n\n"
    )
    text += _table(rows, ("metric", "value"))
    levels = (metrics.get("table") or {}).get("levels") or []
    if levels:
        text += "\nEncoding table against a byte-level BPE of the same size:\n\n"
        text += _table(
            [(lv["level"], (lv.get("table") or {}).get("bytes_per_code"),
              (lv.get("bpe") or {}).get("bytes_per_code"),
              (lv.get("table") or {}).get("roundtrip_exact")) for lv in levels],
            ("level", "bytes/code", "BPE bytes/code", "lossless"),
        )  # fmt: skip
    compression = {k: v for k, v in (metrics.get("compression") or {}).items() if k != "num_bytes"}
    if compression:
        text += "\nGeneral-purpose compressors on the same text, bits per byte: "
        text += ", ".join(f"{k} {_fmt(v)}" for k, v in compression.items()) + ".\n"
    return text


def _training(config: dict[str, Any], metrics: dict[str, Any]) -> str:
    if not config:
        return "The run directory holds no config.toml: the training settings are unknown.\n"
    budget = metrics.get("training") or {}
    text = (
        f"{_fmt(budget.get('steps'))} optimizer steps of {_fmt(budget.get('batch_size'))} windows "
        f"x {_fmt(budget.get('seq_len'))} bytes; {_fmt(budget.get('train_flops'))} training FLOPs "
        "(every forward counted). Settings from RUN/config.toml:\n\n"
    )
    rows = [
        (k, config[k]) for k in TRAINING_KEYS if k in config and not isinstance(config[k], dict)
    ]
    for table in ("model_config", "model", "mask", "corruption"):
        if isinstance(config.get(table), dict):
            rows += [(f"{table}.{k}", json.dumps(v)) for k, v in sorted(config[table].items())]
    return text + _table(rows, ("key", "value"))


def _data(manifest: dict[str, Any] | None, metrics: dict[str, Any]) -> str:
    if manifest is None:
        where = metrics.get("corpus") or "no corpus was given to `bitlab eval`"
        return f"Corpus: {where} (its manifest was not read).\n"
    counts = manifest.get("counts") or {}
    text = (
        f"Corpus store `{manifest.get('path')}` (format {manifest.get('format_version')}, id "
        f"`{manifest.get('store_id')}`), split rule: {manifest.get('split_rule')}.\n\n"
    )
    text += _table(
        [(s, (counts.get(s) or {}).get("docs"), (counts.get(s) or {}).get("bytes"))
         for s in ("train", "val")],
        ("split", "documents", "bytes"),
    )  # fmt: skip
    sources = manifest.get("sources") or []
    if sources:
        shown = sources[:10]
        text += f"\nSources ({manifest.get('sources_total', len(sources))}):\n\n"
        text += _table(
            [(s.get("path") or "(stdin / generated)", s.get("docs"), s.get("doc_bytes"))
             for s in shown],
            ("source", "documents", "bytes"),
        )  # fmt: skip
        if len(sources) > len(shown):
            text += f"\n... and {len(sources) - len(shown)} more (see the store's attributes).\n"
    options = manifest.get("options")
    if options:
        text += f"\nPreparation options: `{json.dumps(options, sort_keys=True)}`.\n"
    return text


def _provenance(env: dict[str, Any] | None) -> str:
    if env is None:
        return "The run has no env.json (trained before bitlab recorded its environment).\n"
    packages = (env.get("packages") or {}).get("bitlab") or {}
    torch = env.get("torch") or {}
    git = env.get("git") or {}
    devices = env.get("devices") or []
    text = f"Trained with `{env.get('command')}` (world size {env.get('world_size')}"
    text += (
        f", devices: {', '.join(sorted({str(d.get('name') or d.get('device')) for d in devices}))})"
    )
    text += f" on {env.get('platform')}, Python {env.get('python')}, torch {torch.get('version')}"
    text += f" (CUDA {torch.get('cuda')})"
    if git:
        text += f", code at git commit `{git.get('commit')}`" + (
            " (with local changes)" if git.get("dirty") else ""
        )
    text += ".\n\n"
    text += _table(sorted(packages.items()), ("bitlab package", "version"))
    sessions = len(env.get("previous") or []) + 1
    if sessions > 1:
        text += f"\nThe run was trained in {sessions} sessions (resumed); env.json keeps each.\n"
    return text


def render_model_card(
    info: RunInfo,
    metrics: dict[str, Any],
    *,
    manifest: dict[str, Any] | None = None,
    env: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    repo_id: str | None = None,
) -> str:
    """The card's text (front matter + Markdown)."""
    library, cls = _LIBRARY.get(info.model_type, ("bitbench", info.model_type))
    config = read_run_config(info) if config is None else config
    data = card_data(info, metrics, manifest)
    where = repo_id or str(info.model_dir)
    date = dt.date.today().isoformat()
    params = metrics.get("num_params")
    body = (
        f"# {info.run_dir.name}\n\n"
        f"A {info.kind} masked language model trained by [bitlab](https://github.com/bitlab-lm/bitlab)"
        f" ({_fmt(params)} parameters), evaluated on {date}.\n\n"
        "## Use\n\n```python\n"
        + (
            f"from {library} import {cls}\n\n"
            f'model = {cls}.from_pretrained("{where}")  # a folder or a Hub repo id\n'
            if info.model_type in _LIBRARY
            else "from bittrain.runs import load_run\n\n"
            f'model = load_run("{info.run_dir}")  # bitbench\'s EvalModel of this run\n'
        )
        + "```\n\n"
        + (
            "Input: one id per bit (`bittokens`: 0, 1, MASK = 2, PAD = 3), MSB first; "
            "see the bitswin README.\n\n"
            if info.model_type == "bitswin"
            else ""
        )
        + f"## Evaluation\n\n{_evaluation(metrics)}\n"
        f"## Training\n\n{_training(config, metrics)}\n"
        f"## Data\n\n{_data(manifest, metrics)}\n"
        f"## Provenance\n\n{_provenance(env)}\n"
        "## License\n\nThe code is Apache-2.0; the weights were trained on the corpus above, "
        "whose own terms apply to them.\n"
    )
    return f"---\n{data.to_yaml()}\n---\n\n{body}"


def card_destination(info: RunInfo, elsewhere: str | Path | None) -> Path:
    """Where the card goes: MODEL/README.md when that is a card bitlab wrote (and nobody
    edited), or absent from a run's model/ folder; else ``elsewhere/model_card.md`` (a folder
    bitlab did not make, a README.md of someone else's). With ``elsewhere`` None that is an
    error; the README.md is never replaced."""
    path = info.model_dir / CARD_NAME
    if path.exists():
        ours = is_bitlab_card(path.read_text(encoding="utf-8", errors="replace"))
    else:
        ours = info.model_dir != info.run_dir  # RUN/model, made by bitlab train
    if ours:
        return path
    if elsewhere is None:
        raise BitbenchError(
            f"'{path}' is not a card bitlab wrote (or it was edited since): it is left as it "
            "is; pass a folder for the card (elsewhere=...)"
        )
    return Path(elsewhere) / CARD_FILE


def write_model_card(
    info: RunInfo,
    metrics: dict[str, Any],
    *,
    corpus: str | Path | None = None,
    repo_id: str | None = None,
    elsewhere: str | Path | None = None,
) -> Path:
    """The run's card (atomic), at :func:`card_destination`; returns where it went."""
    text = render_model_card(
        info,
        metrics,
        manifest=corpus_manifest(corpus if corpus is not None else metrics.get("corpus")),
        env=read_env(info.run_dir),
        repo_id=repo_id,
    )
    path = card_destination(info, elsewhere)
    write_text_atomic(path, marked_card(text))
    return path
