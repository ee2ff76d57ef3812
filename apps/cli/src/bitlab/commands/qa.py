"""`bitlab qa RUN... --data FILE.json [--mode probe|finetune|cloze]`: extractive question
answering on SQuAD-format files (SQuAD 2.0, CMRC 2018) for every model kind.

All runs of one call answer the same questions, split the same way (by article) and read the
same windows; the floors stand beside them. Writes qa.json, report.md and qa_f1_by_length.png
(bitbench.qa).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer

from bitlab.commands import DEVICE
from bitlab.output import emit


def _render(result: dict[str, Any]):
    def render(console) -> None:
        from rich.table import Table

        data = result["data"]
        split = data["split"]
        console.print(
            f"QA on {', '.join(Path(f['path']).name for f in data['files'])}: "
            f"{data['metric'].upper()} metric, {split['train_articles']} training / "
            f"{split['test_articles']} test articles, {data['train_questions_used']} / "
            f"{data['test_questions_used']} questions used",
            style="bold", markup=False, highlight=False,
        )  # fmt: skip
        table = Table()
        for name in ("run", "mode", "EM", "F1", "n", "floor EM", "floor F1", "seconds"):
            table.add_column(name, justify="left" if name in ("run", "mode") else "right")
        window = result["floors"]["window"]
        for run in result["runs"]:
            for mode, r in run["modes"].items():
                key = "has_ans_" if mode == "cloze" else ""
                table.add_row(
                    f"{run['run']} ({run['kind']})", mode, f"{r['exact']:.1f}", f"{r['f1']:.1f}",
                    str(r["n"]), f"{window[key + 'exact']:.1f}", f"{window[key + 'f1']:.1f}",
                    f"{r['seconds']:.0f}",
                )  # fmt: skip
        console.print(table)
        if result.get("written"):
            console.print(f"wrote {', '.join(result['written'])}")

    return render


def register(app: typer.Typer) -> None:
    @app.command("qa")
    def qa(
        runs: list[str] = typer.Argument(..., help="Run directories (any kind) or model dirs."),
        data: list[str] = typer.Option(
            ...,
            "--data",
            help="SQuAD-format JSON file; repeat it: the last one is split into "
            "training and test articles, the others only train.",
        ),
        modes: list[str] = typer.Option(
            ["probe"], "--mode", help="probe, finetune or cloze; repeat for several."
        ),
        test_fraction: float = typer.Option(
            0.25, "--test-fraction", help="Share of the last file's articles that are test."
        ),
        max_questions: int = typer.Option(
            None, "--max-questions", help="At most N test and N training questions (quick look)."
        ),
        train_questions: int = typer.Option(
            1000, "--train-questions", help="At most N training questions."
        ),
        no_answer: bool = typer.Option(
            False,
            "--no-answer",
            help="Also ask the unanswerable questions (SQuAD 2.0): train a no-answer position "
            "and report NoAns and overall beside HasAns.",
        ),
        metric: str = typer.Option("auto", "--metric", help="auto, squad or cmrc."),
        window: int = typer.Option(
            384, "--window", help="Bytes of question + separator + context per model input."
        ),
        max_question_bytes: int = typer.Option(
            96, "--max-question-bytes", help="Questions are cut to this many bytes."
        ),
        stride: int = typer.Option(
            128, "--stride", help="Context bytes shared by consecutive windows."
        ),
        max_answer_bytes: int = typer.Option(
            None,
            "--max-answer-bytes",
            help="Longest answer considered (default: the training answers' 95th percentile).",
        ),
        epochs: int = typer.Option(2, "--epochs", help="Fine-tuning epochs."),
        lr: float = typer.Option(1e-4, "--lr", help="Fine-tuning learning rate of the encoder."),
        cloze_steps: int = typer.Option(
            4, "--cloze-steps", help="Fill rounds of the cloze (most confident holes first)."
        ),
        batch_size: int = typer.Option(32, "--batch-size", help="Windows per forward."),
        seed: int = typer.Option(0, "--seed", help="Seed of the split, subsampling and heads."),
        out: str = typer.Option(
            None, "--out", "-o", help="Output directory (default RUN/qa/<data name> for one run)."
        ),
        device: str = DEVICE,
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Answer questions: span probe, fine-tuning or cloze, with the official metrics."""
        from bitbench.errors import BitbenchError
        from bitbench.qa.dataset import prepare_data
        from bitbench.qa.finetune import FinetuneSettings
        from bitbench.qa.report import write_qa_outputs
        from bitbench.qa.run import QASettings, run_qa
        from bitbench.qa.windows import WindowSettings
        from bittrain.command_line import recorded_argv
        from bittrain.runs import check_device, inspect_run, load_run, resolve_device

        from bitlab.progress import progress_bar

        check_device(device)
        infos = [inspect_run(r) for r in runs]
        if out is None and len(runs) > 1:
            raise BitbenchError("several runs need one --out directory for their qa.json")
        out_dir = Path(out) if out else Path(infos[0].run_dir) / "qa" / Path(data[-1]).stem
        settings = QASettings(
            modes=tuple(dict.fromkeys(modes)),
            windows=WindowSettings(
                length=window, stride=stride, max_question_bytes=max_question_bytes
            ),
            seed=seed,
            finetune=FinetuneSettings(epochs=epochs, encoder_lr=lr),
            cloze_steps=cloze_steps,
            batch_size=batch_size,
        )
        settings.check()
        dataset = prepare_data(
            data, test_fraction=test_fraction, seed=seed, max_questions=max_questions,
            train_questions=train_questions, no_answer=no_answer, metric=metric,
            max_answer_bytes=max_answer_bytes,
        )  # fmt: skip
        loaders = [(r, lambda r=r: load_run(r, device=device)) for r in runs]
        tasks: dict[tuple[str, str], Any] = {}
        with progress_bar() as bar:

            def progress(run: str, stage: str, done: int, total: int) -> None:
                key = (run, stage)
                if key not in tasks:
                    tasks[key] = bar.add_task(f"{Path(run).name}: {stage}", total=total)
                bar.update(tasks[key], completed=done)

            result = run_qa(loaders, dataset, settings, progress)
        result["command"] = shlex.join(recorded_argv())
        result["device"] = resolve_device(device)
        written = write_qa_outputs(result, out_dir)
        result["written"] = [str(p) for p in written.values()]
        if as_json:
            for run in result["runs"]:  # the answers stay in qa.json
                for r in run["modes"].values():
                    r.pop("predictions", None)
        emit(result, as_json, _render(result))
