"""``run_qa``: every model of a call on the same questions, split and windows, in the modes
asked (probe, finetune, cloze), with the floors beside them: the library behind ``bitlab qa``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bittrain.tasks.span_encoders import HasSpanEncoder, SpanEncoder

from bitbench.errors import BitbenchError
from bitbench.qa.batches import Progress, layouts_of, training_set
from bitbench.qa.cloze import cloze_answers
from bitbench.qa.dataset import QAData, floor_scores
from bitbench.qa.finetune import FinetuneSettings, finetune
from bitbench.qa.head import SpanHead
from bitbench.qa.predict import predict_spans
from bitbench.qa.probe import cache_states, fit_probe_head
from bitbench.qa.split import QAExample
from bitbench.qa.windows import WindowSettings, windows_of

log = logging.getLogger(__name__)

MODES = ("probe", "finetune", "cloze")


@dataclass(frozen=True)
class QASettings:
    modes: tuple[str, ...] = ("probe",)
    windows: WindowSettings = field(default_factory=WindowSettings)
    seed: int = 0
    probe_iterations: int = 200  # L-BFGS iterations of the probe head
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)
    cloze_steps: int = 4  # fill rounds per answer
    batch_size: int = 16

    def check(self) -> None:
        self.windows.check()
        unknown = [m for m in self.modes if m not in MODES]
        if unknown or not self.modes:
            raise BitbenchError(
                f"--mode {', '.join(unknown) or '(none)'} is unknown: use {', '.join(MODES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["windows"] = self.windows.to_dict()
        return out


def _encoder(model: Any) -> SpanEncoder:
    if not isinstance(model, HasSpanEncoder):
        raise BitbenchError(
            f"a {getattr(model, 'kind', type(model).__name__)} model has no span encoder: "
            "QA needs a bitswin, byte, bpe or Hugging Face masked-LM run"
        )
    return model.span_encoder()


def _span_mode(
    mode: str,
    encoder: SpanEncoder,
    data: QAData,
    settings: QASettings,
    progress: Progress | None,
) -> tuple[list[str], dict[str, Any]]:
    """Train a head (probe: frozen encoder; finetune: encoder too) and answer the test."""
    w = settings.windows
    train_ctx = data.contexts(data.train)
    train_windows = windows_of(train_ctx, [ex.question for ex in data.train], w)
    layouts = layouts_of(encoder, train_windows, [c.data for c in train_ctx])
    train = training_set(
        train_windows, layouts, data.answer_bytes(data.train, train_ctx), data.no_answer
    )
    if not train.layouts:
        raise BitbenchError("no training window holds its answer: raise --window")
    head: SpanHead
    if mode == "probe":
        cached, ok, targets = cache_states(encoder, train, settings.batch_size, progress)
        head, loss = fit_probe_head(
            cached, ok, targets, no_answer=data.no_answer,
            iterations=settings.probe_iterations, seed=settings.seed,
        )  # fmt: skip
    else:
        head, loss = finetune(
            encoder, train, settings.finetune, no_answer=data.no_answer, seed=settings.seed,
            progress=progress,
        )  # fmt: skip
    test_ctx = data.contexts(data.test)
    test_windows = windows_of(test_ctx, [ex.question for ex in data.test], w)
    answers = predict_spans(
        encoder, head, test_windows, test_ctx, max_answer_bytes=data.max_answer_bytes,
        no_answer=data.no_answer, batch_size=settings.batch_size, progress=progress,
        stage=f"{mode}: answering",
    )  # fmt: skip
    return answers, {
        "train_windows": len(train.layouts),
        "test_windows": len(test_windows),
        "train_loss": loss,
    }


def _scored(data: QAData, items: Sequence[QAExample], answers: Sequence[str | None]) -> dict:
    predictions = {ex.qid: a for ex, a in zip(items, answers, strict=True) if a is not None}
    asked = [ex for ex, a in zip(items, answers, strict=True) if a is not None]
    result = data.score(predictions, asked)
    result.pop("per_question")
    result["predictions"] = predictions
    return result


def run_model(
    load: Callable[[], Any],
    data: QAData,
    settings: QASettings,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """One model in every mode of ``settings`` -> {mode: result}. Fine-tuning trains a model of
    its own (``load()`` again), so the other modes always see the pretrained weights."""
    settings.check()
    model = load()
    results: dict[str, Any] = {"kind": getattr(model, "kind", None), "modes": {}}
    for mode in settings.modes:
        start = time.perf_counter()
        if mode == "cloze":
            test_ctx = data.contexts(data.test)
            answers = cloze_answers(
                _encoder(model), data.test, test_ctx, settings.windows,
                steps=settings.cloze_steps, batch_size=settings.batch_size, progress=progress,
            )  # fmt: skip
            extra: dict[str, Any] = {"known_length": True, "fill_rounds": settings.cloze_steps}
        else:
            encoder = _encoder(load() if mode == "finetune" else model)
            answers, extra = _span_mode(mode, encoder, data, settings, progress)
        result = _scored(data, data.test, answers)
        result.update(extra)
        result["seconds"] = time.perf_counter() - start
        results["modes"][mode] = result
        log.info("qa %s: EM %.2f F1 %.2f in %.0f s", mode, result["exact"], result["f1"],
                 result["seconds"])  # fmt: skip
    return results


def run_qa(
    runs: Sequence[tuple[str, Callable[[], Any]]],
    data: QAData,
    settings: QASettings,
    progress: Callable[[str, str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Every (name, loader) of ``runs`` on ``data`` -> the JSON-able result of qa.json."""
    settings.check()
    floors = {}
    for name, result in floor_scores(data).items():
        result.pop("per_question")
        floors[name] = result
    out: dict[str, Any] = {
        "data": data.describe(),
        "settings": settings.to_dict(),
        "floors": floors,
        "runs": [],
    }
    for name, load in runs:

        def step(stage: str, done: int, total: int, name: str = name) -> None:
            if progress is not None:
                progress(name, stage, done, total)

        out["runs"].append({"run": name, **run_model(load, data, settings, step)})
    return out
