"""`bitlab eval` writes only over what bitlab wrote: a Hugging Face folder's own README.md, an
edited card and a folder of someone else's files are left byte for byte, and an evaluation that
scored nothing is an error that leaves the earlier metrics.json and card as they were."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from bitlab.main import invoke
from bitswin.hub import is_bitlab_card
from bittrain.fixtures import MICRO_MODEL, write_sample_corpus
from cli_checks import one_line_error, snapshot

SETTINGS = ["max_steps=2", "checkpoint_every=2", "eval_every=0", "eval_windows=2", "batch_size=2",
            "seq_len=32", "log_every=1", "table_update_every=2", *MICRO_MODEL]  # fmt: skip
# 64-byte windows: at 32 the `words` protocol of so short a text may hide nothing
FAST = ["--windows", "2", "--seq-len", "64", "--text-bytes", "2000", "--table-windows", "4"]
FOREIGN_CARD = "---\nlicense: mit\nlibrary_name: transformers\n---\n\n# Someone's model\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("evalsafety")
    corpus = write_sample_corpus(root / "c.zarr", n_docs=80)
    run = root / "run"
    words = ["train", "--corpus", str(corpus), "--out", str(run), "--no-progress"]
    for item in SETTINGS:
        words += ["--set", item]
    assert invoke(words) == 0
    return {"corpus": corpus, "run": run}


def _eval(target: Path, corpus: Path, *extra: str) -> list[str]:
    return ["eval", str(target), "--corpus", str(corpus), *FAST, *extra]


def test_a_hugging_face_folder_keeps_its_own_readme(tmp_path, trained, capsys) -> None:
    folder = tmp_path / "hf"
    shutil.copytree(trained["run"] / "model", folder)
    (folder / "README.md").write_text(FOREIGN_CARD)
    capsys.readouterr()
    assert invoke(_eval(folder, trained["corpus"])) == 0
    out = "".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert (folder / "README.md").read_text() == FOREIGN_CARD
    card = folder / "eval" / "model_card.md"
    assert is_bitlab_card(card.read_text())
    assert "wasnotwrittenbybitlab:leftasitis" in out and f"{card}".replace(" ", "") in out


def test_an_edited_card_is_kept_and_bitlab_s_own_is_replaced(tmp_path, trained, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained["run"], run)
    readme = run / "model" / "README.md"
    assert is_bitlab_card(readme.read_text())  # save_pretrained's card, marked as bitlab's
    assert invoke(_eval(run, trained["corpus"])) == 0
    capsys.readouterr()
    ours = readme.read_text()
    assert "bits per masked byte" in ours and is_bitlab_card(ours)  # the eval card replaced it
    edited = ours + "\nMy own notes on this model.\n"
    readme.write_text(edited)
    assert not is_bitlab_card(edited)
    assert invoke(_eval(run, trained["corpus"])) == 0
    assert readme.read_text() == edited
    assert (run / "eval" / "model_card.md").is_file()


def test_an_eval_that_scored_nothing_is_an_error_and_keeps_the_earlier_results(
    tmp_path, trained, capsys
) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained["run"], run)
    assert invoke(_eval(run, trained["corpus"])) == 0
    assert json.loads((run / "eval" / "metrics.json").read_text())["bpb"] is not None
    before = snapshot(run)
    capsys.readouterr()
    assert invoke(_eval(run, trained["corpus"], "--seq-len", "7")) == 2
    one_line_error(capsys, "nothing was scored", "hid no byte", "--seq-len")
    assert snapshot(run) == before


def test_out_holding_someone_else_s_files_is_refused_before_any_work(
    tmp_path, trained, capsys
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.md").write_text("my report")
    (out / "metrics.json").write_text('{"accuracy": 0.9}')
    before = snapshot(out)
    missing = tmp_path / "missing.zarr"  # the corpus is not even read
    assert invoke(_eval(trained["run"], missing, "--out", str(out))) == 2
    one_line_error(capsys, "metrics.json, report.md", "bitlab eval did not write", "--out")
    assert snapshot(out) == before
