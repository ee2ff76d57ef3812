"""The model card bitlab eval writes: Hub metadata that huggingface_hub reads back, numbers
copied from metrics.json / config.toml / the corpus manifest / env.json, gaps named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bitbench.errors import BitbenchError
from bitbench.eval_folder import check_out_dir
from bitbench.model_card import (
    card_destination,
    corpus_manifest,
    render_model_card,
    write_model_card,
)
from bitswin.hub import is_bitlab_card
from bittrain.runs import inspect_run
from huggingface_hub import ModelCard

METRICS = {
    "kind": "bitswin",
    "corpus": None,
    "settings": {"windows": 8, "seq_len": 64, "seed": 3, "mask_rate": 0.15},
    "num_params": 50616,
    "bpb": 2.2431,
    "acc_bit": 0.91,
    "acc_byte": 0.52,
    "acc_word": 0.33,
    "acc_phrase": None,
    "boundary_precision": 0.6,
    "boundary_recall": 0.5,
    "boundary_f1": 0.5454,
    "consistency_auc": None,
    "flops_per_byte": 149772.0,
    "training": {"steps": 1600, "batch_size": 32, "seq_len": 256, "train_flops": 2.4e15},
    "compression": {"num_bytes": 2000, "gzip": 3.32, "zstd": 3.156},
    "command": "bitlab eval RUN --corpus c.zarr --windows 8",
}
MANIFEST = {
    "path": "/data/shakespeare.zarr",
    "format_version": 1,
    "store_id": "abc123",
    "split_rule": "hash < 0.1 -> val",
    "counts": {"train": {"docs": 900, "bytes": 1_000_000}, "val": {"docs": 100, "bytes": 111_000}},
    "sources": [{"path": "input.txt", "docs": 1000, "doc_bytes": 1_111_000}],
    "sources_total": 1,
    "options": {"dedup": True},
}
ENV = {
    "command": "bitlab train --corpus c.zarr --out RUN",
    "world_size": 2,
    "devices": [{"rank": 0, "device": "cuda:0", "name": "NVIDIA H100"}],
    "platform": "Linux",
    "python": "3.11.7",
    "torch": {"version": "2.13.0", "cuda": "12.8"},
    "git": {"commit": "f" * 40, "dirty": False},
    "packages": {"bitlab": {"bitswin": "0.1.0", "bitlab-cli": "0.1.0"}},
    "previous": [{}],
}


@pytest.fixture
def run(tmp_path: Path) -> Path:
    from bitswin import BitSwinConfig, BitSwinModel

    config = BitSwinConfig.tiny(depths=(1, 1), widths=(16, 32), heads=(1, 2), windows_bits=(8, 24))
    BitSwinModel(config).save_pretrained(tmp_path / "RUN" / "model")
    (tmp_path / "RUN" / "config.toml").write_text(
        'model = "bitswin"\nlr = 0.002\nmax_steps = 1600\n\n[model_config]\ndepths = [1, 1]\n'
    )
    return tmp_path / "RUN"


def test_card_metadata_round_trips_through_huggingface_hub(run: Path) -> None:
    text = render_model_card(inspect_run(run), METRICS, manifest=MANIFEST, env=ENV)
    card = ModelCard(text)
    assert card.data.library_name == "bitswin"
    assert card.data.license == "apache-2.0"
    assert "bitlab" in card.data.tags
    values = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert values["bits per masked byte"] == pytest.approx(METRICS["bpb"])
    assert values["word-boundary F1"] == pytest.approx(METRICS["boundary_f1"])
    assert "byte accuracy in masked phrases" not in values  # None is not a result
    assert {r.dataset_name for r in card.data.eval_results} == {"shakespeare.zarr"}
    assert {r.dataset_split for r in card.data.eval_results} == {"val"}


def test_card_body_holds_config_data_metrics_and_provenance(run: Path) -> None:
    text = render_model_card(inspect_run(run), METRICS, manifest=MANIFEST, env=ENV)
    body = text.split("\n---\n", 1)[1]
    assert 'BitSwinModel.from_pretrained("' in body
    assert "| bpb | 2.243 |" in body
    assert "| lr | 0.002 |" in body and "| model_config.depths | [1, 1] |" in body
    assert "1,600 optimizer steps of 32 windows x 256 bytes" in body
    assert "| train | 900 | 1,000,000 |" in body
    assert "| input.txt | 1,000 | 1,111,000 |" in body
    assert METRICS["command"] in body and ENV["command"] in body
    assert "f" * 40 in body and "NVIDIA H100" in body and "world size 2" in body
    assert "2 sessions" in body
    assert "gzip 3.32" in body


def test_missing_pieces_are_named_not_guessed(run: Path) -> None:
    (run / "config.toml").unlink()
    text = render_model_card(inspect_run(run), {"kind": "bitswin", "bpb": 3.0}, env=None)
    assert "holds no config.toml" in text
    assert "has no env.json" in text
    assert "its manifest was not read" in text


def test_write_model_card_reads_the_run_and_the_corpus(run: Path, tmp_path: Path) -> None:
    from bitcodec.corpus_writer import CorpusWriter

    corpus = tmp_path / "c.zarr"
    with CorpusWriter(corpus, val_fraction=0.5) as writer:
        for i in range(20):
            writer.add(f"document {i} with some words".encode())
    (run / "env.json").write_text(json.dumps(ENV))
    path = write_model_card(inspect_run(run), {**METRICS, "corpus": str(corpus)})
    assert path == run / "model" / "README.md"
    card = ModelCard.load(path)
    manifest = corpus_manifest(corpus)
    assert manifest is not None and manifest["store_id"] in card.content
    assert card.data.eval_results[0].dataset_name == "c.zarr"


def test_the_card_replaces_only_bitlab_s_own_readme(run: Path, tmp_path: Path) -> None:
    readme = run / "model" / "README.md"
    assert is_bitlab_card(readme.read_text())  # save_pretrained's card
    assert write_model_card(inspect_run(run), METRICS) == readme
    edited = readme.read_text() + "\nmy own notes\n"
    readme.write_text(edited)
    with pytest.raises(BitbenchError, match="not a card bitlab wrote"):
        write_model_card(inspect_run(run), METRICS)
    beside = tmp_path / "eval"
    path = write_model_card(inspect_run(run), METRICS, elsewhere=beside)
    assert path == beside / "model_card.md" and is_bitlab_card(path.read_text())
    assert readme.read_text() == edited


def test_a_model_folder_of_someone_else_gets_no_card(run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "hf"  # a bare model folder: not a run's model/, whatever it holds
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((run / "model" / name).read_bytes())
    assert card_destination(inspect_run(folder), tmp_path / "o") == tmp_path / "o" / "model_card.md"
    with pytest.raises(BitbenchError, match="left as it is"):
        card_destination(inspect_run(folder), None)
    assert not (folder / "README.md").exists()


def test_eval_folder_of_someone_else_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    check_out_dir(out)  # empty: fine
    (out / "notes.txt").write_text("unrelated")
    check_out_dir(out)  # no file an evaluation writes: fine
    (out / "report.md").write_text("my report")
    with pytest.raises(BitbenchError, match=r"report\.md that bitlab eval did not write"):
        check_out_dir(out)
    (out / "metrics.json").write_text(json.dumps({"version": 2, "settings": {}, "run": "r",
                                                  "kind": "bitswin"}))  # fmt: skip
    check_out_dir(out)  # an earlier evaluation's folder: bitlab's to replace
    (tmp_path / "f").write_text("x")
    with pytest.raises(BitbenchError, match="is a file"):
        check_out_dir(tmp_path / "f")
