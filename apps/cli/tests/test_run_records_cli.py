"""What a training run records about itself (RUN/env.json, RUN/train.log), `--resume` with the
run's own command line, and the model card `bitlab eval` writes, on one short real run."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from pathlib import Path

import pytest
from bitlab.main import invoke
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus
from huggingface_hub import ModelCard

SETTINGS = ["max_steps=4", "checkpoint_every=2", "eval_every=2", "eval_windows=2",
            "batch_size=2", "seq_len=32", "log_every=1", "table_update_every=2", *MICRO_MODEL]  # fmt: skip


def _command(corpus: Path, run: Path, *extra: str) -> list[str]:
    words = ["train", "--corpus", str(corpus), "--out", str(run), "--no-progress"]
    for item in SETTINGS:
        words += ["--set", item]
    return [*words, *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("records")
    corpus = write_sample_corpus(root / "c.zarr", n_docs=80)
    run = root / "run"
    assert invoke(_command(corpus, run)) == 0
    return {"root": root, "corpus": corpus, "run": run}


def test_env_json_records_versions_devices_argv_and_git(trained) -> None:
    env = json.loads((trained["run"] / "env.json").read_text())
    assert env["argv"][:2] == ["bitlab", "train"] and str(trained["corpus"]) in env["argv"]
    assert env["command"].startswith("bitlab train --corpus ")
    assert env["world_size"] == 1
    assert env["devices"] == [env["devices"][0]] and env["devices"][0]["device"] == "cpu"
    bitlab = env["packages"]["bitlab"]
    assert set(bitlab) == {"bittokens", "bitcodec", "bitmask", "bitswin", "enctable",
                           "bitbaselines", "bittrain", "bitbench", "bitlab-cli"}  # fmt: skip
    import bitswin
    import torch

    assert bitlab["bitswin"] == bitswin.__version__
    assert env["torch"]["version"] == torch.__version__
    assert env["torch"]["cuda"] == torch.version.cuda
    # The tests run from a git checkout of the code (or from an installed copy: then None).
    root = Path(__file__).resolve().parents[3]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    if head.returncode == 0:
        assert env["git"]["commit"] == head.stdout.strip()
        assert isinstance(env["git"]["dirty"], bool)
    assert env["resume_from"] is None and env["previous"] == []


def test_train_log_holds_the_records_of_the_run(trained) -> None:
    lines = (trained["run"] / "train.log").read_text().splitlines()
    assert re.match(
        r"\d{4}-\d\d-\d\d [\d:,]+ INFO +\[rank 0\] bittrain.provenance: starting run", lines[0]
    )
    steps = [line for line in lines if "metrics_log: train step" in line]
    assert [int(re.search(r"train step (\d+):", s).group(1)) for s in steps] == [1, 2, 3, 4]
    assert any("metrics_log: val step 4: val_bpb_masked " in line for line in lines)
    assert "training session ended: status ok at step 4" in lines[-1]


def test_resume_accepts_the_runs_own_command_line_and_appends(trained, capsys) -> None:
    run, corpus = trained["run"], trained["corpus"]
    before = (run / "train.log").read_text()
    # The exact command line plus --resume (and the shipped config named explicitly), with a
    # larger budget through --max-steps: accepted.
    assert invoke(_command(corpus, run, "--config", "tiny", "--resume", "--max-steps", "6")) == 0
    capsys.readouterr()
    after = (run / "train.log").read_text()
    assert after.startswith(before)  # appended, never truncated
    assert "resuming run" in after[len(before) :] and "train step 6:" in after
    env = json.loads((run / "env.json").read_text())
    assert env["resume_from"].endswith("step-00000004")
    assert len(env["previous"]) == 1 and env["previous"][0]["resume_from"] is None


def test_resume_refuses_config_changes_naming_old_and_new(trained, capsys) -> None:
    run, corpus = trained["run"], trained["corpus"]
    config = (run / "config.toml").read_text()
    code = invoke(
        _command(corpus, run, "--resume", "--set", "lr=0.5", "--set", "model.depths=[2,1]")
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("bitlab: error: --resume:"), err
    assert "lr 0.002 -> 0.5" in err and "model.depths [1, 1] -> [2, 1]" in err
    assert "--allow-config-change" in err
    assert (run / "config.toml").read_text() == config  # nothing was touched
    assert invoke(_command(corpus, run, "--config", "base", "--resume")) == 2
    assert "--config base" in capsys.readouterr().err
    # Asked for on purpose, a change goes through (and is written to the run's config).
    steps = "--max-steps"
    assert invoke(_command(corpus, run, "--resume", "--set", "lr=0.001", steps, "6",
                           "--allow-config-change")) == 0  # fmt: skip
    capsys.readouterr()
    assert "lr = 0.001" in (run / "config.toml").read_text()
    assert invoke(_command(corpus, run, "--allow-config-change")) == 2
    assert "goes with --resume" in capsys.readouterr().err


def test_eval_writes_a_model_card_beside_the_model(trained, capsys) -> None:
    run = trained["run"]
    # 64-byte windows: at 32 the `words` protocol of so short a text may hide nothing (bpb null)
    fast = ["--windows", "2", "--seq-len", "64", "--text-bytes", "2000", "--table-windows", "4"]
    assert invoke(["eval", str(run), "--corpus", str(trained["corpus"]), *fast, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    card = ModelCard.load(run / "model" / "README.md")
    assert card.data.library_name == "bitswin"
    results = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert metrics["bpb"] is not None
    assert results["bits per masked byte"] == pytest.approx(metrics["bpb"], abs=1e-6)
    for protocol in ("words", "bytes"):
        if metrics.get(f"bpb_{protocol}") is not None:
            value = results[f"bits per byte, protocol {protocol}"]
            assert value == pytest.approx(metrics[f"bpb_{protocol}"], abs=1e-6)
    if metrics.get("protocol"):
        assert f"protocol `{metrics['protocol']}`" in card.text
    env = json.loads((run / "env.json").read_text())
    assert env["command"] in card.text and "bitlab eval" in card.text
    # The folder is what push_to_hub uploads, and it loads as the README shows.
    from bitswin import BitSwinModel

    model = BitSwinModel.from_pretrained(run / "model")
    assert model.num_parameters() == metrics["num_params"]


def test_log_level_reaches_the_console_and_is_checked(trained, capsys, monkeypatch) -> None:
    monkeypatch.delenv("BITLAB_LOG_LEVEL", raising=False)  # restored after the test
    logger = logging.getLogger("bitbench.test_probe_of_logging")
    from bittrain import logs

    logs.configure("debug")
    logger.debug("a debug record")
    logs.configure("warning")
    logger.info("an info record")
    logs.remove_console()
    err = capsys.readouterr().err
    assert "a debug record" in err and "an info record" not in err
    assert invoke(["--log-level", "loud", "codec", "encode", "a"]) == 2
    assert "log level 'loud'" in capsys.readouterr().err
