"""Training config: shipped configs, --set overrides, types, unknown keys with suggestions."""

from __future__ import annotations

import dataclasses

import pytest
from bitmask import MaskConfig
from bittrain.errors import BittrainError
from bittrain.trainer.config import TrainConfig
from bittrain.trainer.config_files import (
    config_from_toml_text,
    load_config,
    parse_override,
    shipped_configs,
    write_config,
)


def test_shipped_configs_load_and_differ() -> None:
    names = shipped_configs()
    assert {"tiny", "base", "large"} <= set(names)
    tiny, base, large = (load_config(n) for n in ("tiny", "base", "large"))
    assert tiny.model_preset == "tiny" and base.model_preset == "base"
    assert large.model_preset == "large"
    assert base.lr == pytest.approx(5e-4) and base.warmup_steps == 5000  # appendix B
    assert base.task_options["table_update_every"] == 500 and base.batch_size == 64


def test_tiny_is_the_curriculum_config_with_byte_masks_only() -> None:
    tiny, curriculum = load_config("tiny"), load_config("tiny-curriculum")
    differ = {
        f.name
        for f in dataclasses.fields(tiny)
        if getattr(tiny, f.name) != getattr(curriculum, f.name)
    }
    assert differ == {"mask", "max_steps"}
    assert curriculum.mask == {} and curriculum.max_steps == 1600  # the seed's curriculum
    for name in ("tiny", "tiny-bytes", "base", "large"):  # tiny-bytes: tiny's former name
        mask = MaskConfig(**load_config(name).mask)
        assert mask.byte_start == 0 and mask.byte_rate == 0.15, name
        levels = [mask.mix_weight(level) for level in ("bit", "byte", "word", "phrase")]
        assert levels == [0, 1, 0, 0], name
    assert load_config("tiny-bytes") == tiny


def test_extends_starts_from_another_config(tmp_path) -> None:
    (tmp_path / "mine.toml").write_text('extends = "tiny"\nlr = 1e-3\n[mask]\nbyte_rate = 0.1\n')
    (tmp_path / "more.toml").write_text('extends = "mine.toml"\nseed = 3\n')  # beside it
    cfg = load_config(str(tmp_path / "more.toml"))
    tiny = load_config("tiny")
    assert (cfg.lr, cfg.seed, cfg.mask) == (1e-3, 3, {**tiny.mask, "byte_rate": 0.1})
    assert (cfg.max_steps, cfg.model_preset) == (tiny.max_steps, tiny.model_preset)
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(BittrainError, match="extends itself"):
        load_config(str(tmp_path / "a.toml"))
    (tmp_path / "c.toml").write_text('extends = "nowhere"\n')
    with pytest.raises(BittrainError, match="neither a shipped config"):
        load_config(str(tmp_path / "c.toml"))


def test_overrides_are_toml_literals() -> None:
    cfg = load_config("tiny", ["lr=1e-3", "compile=true", "device=cpu", 'out="runs/x"', "seed=7"])
    assert cfg.lr == 1e-3 and cfg.compile is True and cfg.device == "cpu"
    assert cfg.out == "runs/x" and cfg.seed == 7
    assert parse_override("max_minutes=2") == ("max_minutes", 2)
    assert load_config("tiny", ["max_minutes=2"]).max_minutes == 2.0  # int accepted for float


def test_dotted_keys_reach_tables() -> None:
    cfg = load_config(
        "tiny",
        [
            "model.depths=[1, 1]",
            "model.loss_weights.byte=2.0",
            "mask.word_start=10",
            "corruption.replace_rate=0.1",
        ],
    )
    assert cfg.model_config["depths"] == [1, 1]
    assert cfg.model_config["loss_weights"] == {"byte": 2.0}
    assert cfg.mask == {**load_config("tiny").mask, "word_start": 10}  # merged into tiny's
    assert cfg.corruption == {"replace_rate": 0.1}


def test_unknown_key_suggests_the_closest() -> None:
    with pytest.raises(
        BittrainError, match=r"unknown config key 'batchsize'.*did you mean 'batch_size'"
    ):
        load_config("tiny", ["batchsize=8"])
    with pytest.raises(BittrainError, match=r"did you mean 'model'"):
        load_config("tiny", ["modle.width=3"])


def test_wrong_types_are_rejected() -> None:
    with pytest.raises(BittrainError, match=r"'batch_size' must be an integer"):
        load_config("tiny", ["batch_size=abc"])
    with pytest.raises(BittrainError, match=r"'lr' must be a number"):
        load_config("tiny", ["lr=true"])
    with pytest.raises(BittrainError, match=r"'compile' must be true or false"):
        load_config("tiny", ["compile=1"])
    with pytest.raises(BittrainError, match=r"'device' = 'gpu' is not one of"):
        load_config("tiny", ["device=gpu"])
    with pytest.raises(BittrainError, match=r"did you mean 'entropy'"):
        load_config("tiny", ["boundary_source=entropi"])
    with pytest.raises(BittrainError, match=r"must be >= 1"):
        load_config("tiny", ["batch_size=0"])
    with pytest.raises(BittrainError, match=r"is not key=value"):
        load_config("tiny", ["lr"])


def test_unknown_config_name_and_bad_toml(tmp_path) -> None:
    with pytest.raises(BittrainError, match=r"did you mean 'tiny'"):
        load_config("tinny")
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = = 3\n")
    with pytest.raises(BittrainError, match="not valid TOML"):
        load_config(str(bad))
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("warmup = 3\n")
    with pytest.raises(BittrainError, match=r"did you mean 'warmup_steps'.*unknown\.toml"):
        load_config(str(unknown))
    table = tmp_path / "table.toml"
    table.write_text("[maks]\nword_start = 3\n")
    with pytest.raises(BittrainError, match=r"unknown table \[maks\].*did you mean 'mask'"):
        load_config(str(table))


def test_model_table_in_a_hand_written_file(tmp_path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("seq_len = 128\n[model]\ndepths = [1, 1]\n[mask]\nbyte_rate = 0.2\n")
    cfg = load_config(str(path), ["seq_len=64"])
    assert cfg.seq_len == 64 and cfg.model_config == {"depths": [1, 1]}
    assert cfg.mask == {"byte_rate": 0.2}


def test_resolved_config_round_trips(tmp_path) -> None:
    cfg = load_config("base", ["model.depths=[1, 2]", "lr=3e-4", "corpus=c.zarr"])
    path = tmp_path / "config.toml"
    write_config(cfg, path)
    again = config_from_toml_text(path.read_text(), str(path))
    assert again == cfg
    assert load_config(str(path)) == cfg


def test_defaults_are_valid() -> None:
    assert TrainConfig().task == "bitswin"


def test_switching_the_task_drops_a_shipped_model_table(monkeypatch) -> None:
    # A shipped config's [model] table is written for bitswin; a baseline must not inherit it.
    from bittrain.trainer import config_files as config_module

    doc = {"task": "bitswin", "model": {"depths": [1, 1]}}
    monkeypatch.setattr(config_module, "read_toml", lambda path: doc)
    assert load_config("tiny").model_config == {"depths": [1, 1]}
    byte = load_config("tiny", ["task=byte"])
    assert byte.task == "byte" and byte.model_config == {}
    kept = load_config("tiny", ["task=bpe", "model.width=64"])
    assert kept.model_config == {"width": 64}


def test_files_and_flags_of_the_old_spelling_are_read(tmp_path) -> None:
    # Run directories written before `task` existed say `model = "byte"` and [model_config].
    old = tmp_path / "config.toml"
    old.write_text('model = "byte"\nseq_len = 64\n[model_config]\nd_model = 32\n')
    cfg = load_config(str(old))
    assert cfg.task == "byte" and cfg.model_config == {"d_model": 32}
    assert load_config("tiny", ["model=bpe"]).task == "bpe"
    written = TrainConfig(task="byte", model_config={"d_model": 32}).to_toml()
    assert 'task = "byte"' in written and "[model]" in written


def test_unknown_task_names_the_registered_kinds() -> None:
    with pytest.raises(BittrainError, match="bitswin, byte, bpe"):
        TrainConfig(task="bytes")
