"""A corpus's reference BPE: trained on the train split, cached per split on disk and in memory,
taken (and kept on resume) by the bpe baseline task."""

from __future__ import annotations

import numpy as np
from bittrain.reference_bpe import reference_bpe
from bittrain.tasks.baseline_task import make_baseline_task

CORPUS = (
    "The quick brown fox jumps over the lazy dog. 1234 5678!! "
    "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u3002 "
    "Ein Fu\u00df, zwei F\u00fc\u00dfe. \U0001f600\U0001f600 "
).encode() * 30
PIECES = [CORPUS[i : i + 300] for i in range(0, len(CORPUS), 300)]


class FakeSplit:
    """What reference_bpe reads of a bitcodec CorpusSplit."""

    def __init__(self, docs: list[bytes]) -> None:
        self._data = np.frombuffer(b"".join(docs), dtype=np.uint8)
        self.offsets = np.cumsum([0, *map(len, docs)]).astype(np.int64)
        self.num_bytes = int(self._data.size)
        self.num_docs = len(docs)
        self.reads = 0

    def data(self) -> np.ndarray:
        self.reads += 1
        return self._data


def test_reference_is_cached_per_train_split(tmp_path, monkeypatch):
    import bittrain.reference_bpe as ref

    calls = []
    real_train = ref.train_reference_bpe
    monkeypatch.setattr(ref, "train_reference_bpe", lambda *a: calls.append(1) or real_train(*a))
    monkeypatch.setattr(ref, "_MEMORY", {})
    split = FakeSplit(PIECES)
    first = reference_bpe(split, 400, cache_dir=tmp_path)
    assert len(calls) == 1 and len(list((tmp_path / "reference-bpe").glob("*.json"))) == 1
    monkeypatch.setattr(ref, "_MEMORY", {})  # a new process: read from disk, no training
    again = reference_bpe(split, 400, cache_dir=tmp_path)
    assert len(calls) == 1 and again.to_str() == first.to_str()
    other = reference_bpe(FakeSplit(PIECES[:-1]), 400, cache_dir=tmp_path)  # other text
    assert len(calls) == 2 and other is not first


def test_bpe_task_takes_the_reference_and_reuses_it_on_resume(tmp_path):
    cfg = {"d_model": 32, "n_layers": 1, "n_heads": 2, "vocab_size": 450}
    split = FakeSplit(PIECES)
    a = make_baseline_task("bpe", cfg, train_split=split, run_dir=tmp_path / "a", seed=0,
                           total_steps=1)  # fmt: skip
    b = make_baseline_task("bpe", cfg, train_split=split, run_dir=tmp_path / "b", seed=7,
                           total_steps=1)  # fmt: skip
    assert a.tokenizer.to_str() == b.tokenizer.to_str() == reference_bpe(split, 450).to_str()
    assert a.config.vocab_size == a.tokenizer.get_vocab_size()
    assert 1.0 < a.config.bytes_per_token < 20.0
    again = make_baseline_task("bpe", cfg, train_split=FakeSplit([b"x" * 5000]),
                               run_dir=tmp_path / "a", seed=5, total_steps=1)  # fmt: skip
    assert again.tokenizer.to_str() == a.tokenizer.to_str()  # RUN/tokenizer.json, not the split
