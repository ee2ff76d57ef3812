"""BitSwinModel on huggingface_hub's PyTorchModelHubMixin, offline: Hub-ready folders,
folders of older bitswin versions, Hub ids through the cache, push_to_hub without a network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from bitswin import BitswinError, BitSwinModel
from bitswin.hub import is_bitlab_card, marked_card, resolve_pretrained
from huggingface_hub import ModelCard, PyTorchModelHubMixin
from safetensors.torch import save_file


def _ids(n_bytes: int = 24) -> torch.Tensor:
    return torch.randint(0, 2, (2, 8 * n_bytes), generator=torch.Generator().manual_seed(1))


def test_is_a_pytorch_model_hub_mixin_with_a_hub_ready_folder(micro_config, tmp_path):
    model = BitSwinModel(micro_config)
    assert isinstance(model, PyTorchModelHubMixin)
    folder = model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BitSwinModel"]
    assert config["model_type"] == "bitswin"
    assert config["widths"] == list(micro_config.widths)
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "bitswin"
    assert card.data.license == "apache-2.0"
    assert {"bitlab", "pytorch_model_hub_mixin"} <= set(card.data.tags)
    assert 'BitSwinModel.from_pretrained("' in card.text


def test_a_card_already_in_the_folder_is_kept(micro_config, tmp_path):
    folder = BitSwinModel(micro_config).save_pretrained(tmp_path / "m")
    (folder / "README.md").write_text("---\nlibrary_name: bitswin\n---\nmeasured card\n")
    BitSwinModel(micro_config).save_pretrained(folder)
    assert "measured card" in (folder / "README.md").read_text()


def test_folders_written_before_the_mixin_still_load(micro_config, tmp_path):
    """RUN/model of older runs: config.json without architectures, no README.md."""
    torch.manual_seed(0)
    model = BitSwinModel(micro_config).eval()
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(micro_config.to_json() + "\n")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(old / "model.safetensors"), metadata={"format": "pt"})
    loaded = BitSwinModel.from_pretrained(old)
    assert not loaded.training  # as PyTorchModelHubMixin: eval mode
    ids = _ids()
    assert torch.equal(model(ids).byte_logits, loaded(ids).byte_logits)


def test_positional_map_location_and_overrides_still_work(micro_config, tmp_path):
    folder = BitSwinModel(micro_config).save_pretrained(tmp_path / "m")
    wider = BitSwinModel.from_pretrained(folder, "cpu", windows=(4, 7, 3, 4))
    assert wider.config.windows == (4, 7, 3, 4)
    with pytest.raises(BitswinError, match="saves its own config"):
        wider.save_pretrained(tmp_path / "x", config={"widths": [1]})
    assert not (tmp_path / "x").exists()


def test_paths_that_are_not_folders_get_one_clear_error(micro_config, tmp_path):
    file = tmp_path / "weights.bin"
    file.write_bytes(b"x")
    for bad in (tmp_path / "missing", file, "runs/a/model", "./model"):
        with pytest.raises(BitswinError, match="save_pretrained"):
            BitSwinModel.from_pretrained(bad)


def test_hub_id_offline_without_cache_names_hf_hub_offline(tmp_path):
    with pytest.raises(BitswinError, match="HF_HUB_OFFLINE") as info:
        BitSwinModel.from_pretrained("bitlab/not-cached", cache_dir=tmp_path)
    assert "not in the local Hugging Face cache" in str(info.value)


def _cache_snapshot(cache: Path, repo: str, folder: Path) -> None:
    """The Hugging Face cache layout of `repo` at one commit, holding `folder`'s files."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for path in folder.iterdir():
        (snapshot / path.name).write_bytes(path.read_bytes())


def test_hub_id_in_the_cache_loads_with_hf_hub_offline_set(micro_config, tmp_path):
    """A subprocess with HF_HUB_OFFLINE=1 in its environment (read when huggingface_hub is
    imported): a cached repo id loads, an uncached one fails with the offline message."""
    torch.manual_seed(0)
    model = BitSwinModel(micro_config).eval()
    folder = model.save_pretrained(tmp_path / "m")
    cache = tmp_path / "cache"
    _cache_snapshot(cache, "bitlab-test/micro", folder)
    ids = _ids()
    torch.save(ids, tmp_path / "ids.pt")
    torch.save(model(ids).byte_logits, tmp_path / "expected.pt")
    code = f"""
import torch
from bitswin import BitswinError, BitSwinModel
model = BitSwinModel.from_pretrained("bitlab-test/micro")
ids = torch.load({str(tmp_path / "ids.pt")!r}, weights_only=True)
expected = torch.load({str(tmp_path / "expected.pt")!r}, weights_only=True)
assert torch.equal(model(ids).byte_logits, expected)
try:
    BitSwinModel.from_pretrained("bitlab-test/other")
except BitswinError as exc:
    print("refused:", exc)
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "refused: Hub model 'bitlab-test/other'" in result.stdout
    assert "HF_HUB_OFFLINE is set" in result.stdout


def test_resolve_pretrained_returns_local_folders_as_they_are(tmp_path):
    assert resolve_pretrained(tmp_path, ("config.json",)) == tmp_path


def test_push_to_hub_uploads_a_save_pretrained_folder(micro_config, tmp_path, monkeypatch):
    """push_to_hub (the mixin's) with HfApi replaced: what would be uploaded, no network."""
    import huggingface_hub.hub_mixin as hub_mixin

    seen: dict = {}

    class FakeApi:
        def __init__(self, token=None):
            seen["token"] = token

        def create_repo(self, repo_id, private=None, exist_ok=False):
            seen["repo"] = repo_id
            return type("Url", (), {"repo_id": repo_id})()

        def upload_folder(self, *, repo_id, folder_path, **kwargs):
            folder = Path(folder_path)
            seen["files"] = sorted(p.name for p in folder.iterdir())
            seen["config"] = json.loads((folder / "config.json").read_text())
            return f"https://huggingface.co/{repo_id}/commit/0"

    monkeypatch.setattr(hub_mixin, "HfApi", FakeApi)
    model = BitSwinModel(micro_config)
    url = model.push_to_hub("someone/bitswin-micro", token="t")
    assert url.endswith("/commit/0")
    assert seen["repo"] == "someone/bitswin-micro"
    assert seen["files"] == ["README.md", "config.json", "model.safetensors"]
    assert seen["config"]["architectures"] == ["BitSwinModel"]
    url = model.save_pretrained(tmp_path / "local", push_to_hub=True, repo_id="someone/x")
    assert url.endswith("/commit/0") and (tmp_path / "local" / "config.json").is_file()


def test_cards_bitlab_writes_are_marked_and_an_edit_removes_the_mark(micro_config, tmp_path):
    BitSwinModel(micro_config).save_pretrained(tmp_path / "m")
    text = (tmp_path / "m" / "README.md").read_text()
    assert is_bitlab_card(text)
    assert is_bitlab_card(marked_card("# a card\n"))
    assert not is_bitlab_card(text.replace("bitswin", "bitswin2", 1))  # edited above the mark
    assert not is_bitlab_card(text + "my notes\n")  # added below it
    assert not is_bitlab_card("---\nlicense: mit\n---\n# someone's card\n")
