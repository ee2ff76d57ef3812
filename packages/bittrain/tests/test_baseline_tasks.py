"""Baseline models: masking, local attention, learning, bpb definition, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bitbaselines import BpeMLM, BpeMLMConfig, ByteMLM, ByteMLMConfig, train_reference_bpe
from bitbaselines.bpe import token_byte_lengths
from bitbaselines.config import BYTE_MASK_ID, BYTE_PAD_ID
from bitbaselines.errors import BitbaselinesError
from bitbaselines.tokenizer import encode_windows
from bittrain.errors import BittrainError
from bittrain.tasks.baseline_eval import load_baseline
from bittrain.tasks.baseline_masking import MaskDraw, hash_uniform, mask_units
from bittrain.tasks.baseline_scoring import score_tokens
from bittrain.tasks.baseline_task import make_baseline_task

TEXT = (
    b"First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. "
    b"First Citizen: You are all resolved rather to die than to famish? All: Resolved. "
    b"First Citizen: First, you know Caius Marcius is chief enemy to the people. "
) * 40

CYCLIC = b"abcdefghijklmnop" * 200  # unigram entropy ln 16; each byte fixed by its neighbours
TINY_BYTE = {"d_model": 32, "n_layers": 2, "n_heads": 2, "window": 8}
TINY_BPE = {"d_model": 32, "n_layers": 2, "n_heads": 2, "vocab_size": 400, "max_positions": 64}


class FakeSplit:
    """A CorpusSplit stand-in: contiguous windows of one byte string (one document)."""

    def __init__(self, data: bytes) -> None:
        self._data = np.frombuffer(data, dtype=np.uint8)
        self.num_bytes = len(data)
        self.num_docs = 1
        self.offsets = np.array([0, len(data)], dtype=np.int64)

    def data(self) -> np.ndarray:
        return self._data

    def sample_windows(self, n: int, length: int, rng: np.random.Generator):
        starts = rng.integers(0, self.num_bytes - length + 1, size=n)
        windows = np.stack([self._data[s : s + length] for s in starts])
        doc_starts = np.zeros_like(windows, dtype=bool)
        return windows, doc_starts


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest (and steadiest on shared cores) on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _train(task, steps: int, *, length: int = 64, batch: int = 8, lr: float = 1e-2,
           text: bytes = TEXT):  # fmt: skip
    split = FakeSplit(text)
    rng = np.random.default_rng(0)
    opt = torch.optim.Adam(task.model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        w, d = split.sample_windows(batch, length, rng)
        index = torch.arange(step * batch, (step + 1) * batch)
        out = task.loss(task.model, torch.from_numpy(w), torch.from_numpy(d), step=step,
                        sample_index=index)  # fmt: skip
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    return losses


# -- masking -------------------------------------------------------------------------------------


def test_hash_uniform_depends_on_sample_not_batch_position():
    a = hash_uniform(3, torch.tensor([10, 11, 12]), 5, 16, stream=1)
    b = hash_uniform(3, torch.tensor([12, 10]), 5, 16, stream=1)
    assert torch.equal(a[2], b[0]) and torch.equal(a[0], b[1])
    assert not torch.equal(a, hash_uniform(3, torch.tensor([10, 11, 12]), 6, 16, stream=1))
    assert not torch.equal(a, hash_uniform(4, torch.tensor([10, 11, 12]), 5, 16, stream=1))
    assert float(a.min()) >= 0.0 and float(a.max()) < 1.0


def test_mask_units_rates_and_80_10_10():
    ids = torch.randint(0, 256, (64, 512))
    m = mask_units(ids, torch.ones_like(ids, dtype=torch.bool), rate=0.15, mask_id=BYTE_MASK_ID,
                   random_low=0, random_high=256, seed=0, sample_index=torch.arange(64), step=0)  # fmt: skip
    sel = m.selected
    assert abs(sel.float().mean().item() - 0.15) < 0.01
    shown_mask = (m.input_ids == BYTE_MASK_ID) & sel
    kept = (m.input_ids == ids) & sel
    assert abs(shown_mask.sum().item() / sel.sum().item() - 0.8) < 0.03
    # kept = 10% kept on purpose + random draws that hit the true byte (1/256 of 10%)
    assert abs(kept.sum().item() / sel.sum().item() - 0.1) < 0.03
    assert torch.equal(m.input_ids[~sel], ids[~sel])  # unselected bytes are untouched


def test_mask_units_selects_at_least_one_per_row_and_never_padding():
    ids = torch.randint(2, 50, (8, 6))
    maskable = torch.zeros_like(ids, dtype=torch.bool)
    maskable[:, :3] = True
    maskable[7] = False  # an all-padding row
    m = mask_units(ids, maskable, rate=0.01, mask_id=1, random_low=2, random_high=50, seed=1,
                   sample_index=torch.arange(8), step=0, mask_prob=1.0, random_prob=0.0)  # fmt: skip
    assert m.selected[:7].sum(dim=1).min().item() >= 1
    assert not (m.selected & ~maskable).any()
    assert (m.input_ids[m.selected] == 1).all()


# -- byte model ----------------------------------------------------------------------------------


def _byte_model(**kw) -> ByteMLM:
    torch.manual_seed(0)
    return ByteMLM(ByteMLMConfig(**{**TINY_BYTE, **kw})).eval()


def test_byte_attention_is_local_by_window_and_layers():
    model = _byte_model()  # window 8, 2 layers: receptive field +-16 bytes
    x = torch.randint(0, 256, (1, 80))
    y = x.clone()
    y[0, 60] = (y[0, 60] + 1) % 256
    with torch.no_grad():
        hx, _ = model(x)
        hy, _ = model(y)
    changed = (hx - hy).abs().amax(dim=-1)[0] > 1e-6  # [L]
    assert changed[60 - 16 : 60 + 17].any()
    assert not changed[: 60 - 16].any() and not changed[60 + 17 :].any()
    assert changed[44] and changed[76]  # the band reaches exactly 2 * window


def test_byte_segments_do_not_see_each_other():
    model = _byte_model()
    x = torch.randint(0, 256, (1, 40))
    seg = torch.zeros_like(x)
    seg[0, 20:] = 1
    y = x.clone()
    y[0, 25] = (y[0, 25] + 7) % 256
    with torch.no_grad():
        hx, _ = model(x, seg)
        hy, _ = model(y, seg)
    assert torch.allclose(hx[0, :20], hy[0, :20], atol=1e-6)
    assert not torch.allclose(hx[0, 20:], hy[0, 20:], atol=1e-6)


def test_byte_padding_does_not_change_real_positions():
    model = _byte_model()
    x = torch.randint(0, 256, (1, 21))  # not a multiple of the window
    padded = torch.cat([x, torch.full((1, 11), BYTE_PAD_ID)], dim=1)
    with torch.no_grad():
        hx, lx = model(x)
        hp, lp = model(padded)
    assert torch.allclose(hx, hp[:, :21], atol=1e-5)
    assert torch.allclose(lx, lp[:, :21], atol=1e-4)


def test_byte_model_learns_from_context_on_a_tiny_corpus():
    """Below the unigram entropy (ln 16) only by reading the neighbours of masked bytes."""
    task = make_baseline_task("byte", TINY_BYTE, train_split=None, run_dir=None, seed=0,
                              total_steps=100)  # fmt: skip
    losses = _train(task, 100, text=CYCLIC)
    first, last = np.mean(losses[:3]), np.mean(losses[-5:])
    assert first > math.log(256) - 0.5  # starts near uniform over bytes
    assert last < math.log(16) - 1.0, (first, last)


# -- BPE model -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    return train_reference_bpe([TEXT[i : i + 500] for i in range(0, len(TEXT), 500)], 400)


def test_bpe_model_learns_on_a_tiny_corpus(tmp_path):
    task = make_baseline_task("bpe", TINY_BPE, train_split=FakeSplit(TEXT), run_dir=tmp_path,
                              seed=0, total_steps=40)  # fmt: skip
    assert (tmp_path / "tokenizer.json").is_file()
    losses = _train(task, 40, length=128)
    first, last = losses[0], np.mean(losses[-5:])
    assert first > math.log(task.config.vocab_size) - 1.0
    assert last < first - 1.5, (first, last)


def test_bpe_bpb_is_bits_over_covered_bytes_on_a_hand_made_case(tokenizer):
    """A model with uniform logits costs log2(V) bits per masked token; bpb divides the sum by
    the bytes the masked tokens cover (counted here independently by decoding the tokens)."""
    V = tokenizer.get_vocab_size()

    class Uniform(torch.nn.Module):
        def forward(self, ids, seg, select):
            return None, torch.zeros(int(select.sum()), V)

    windows = np.frombuffer(TEXT[: 4 * 96], dtype=np.uint8).reshape(4, 96)
    ids, seg, _ = encode_windows(tokenizer, windows, max_tokens=64)
    ids_t = torch.from_numpy(ids)
    score = score_tokens(Uniform(), ids_t, torch.from_numpy(seg),
                         torch.from_numpy(token_byte_lengths(tokenizer)), vocab_size=V,
                         draw=MaskDraw(0.3, 0, torch.arange(4)))  # fmt: skip
    sel = mask_units(ids_t, ids_t != 0, rate=0.3, mask_id=1, random_low=2, random_high=V, seed=0,
                     sample_index=torch.arange(4), step=0, mask_prob=1.0, random_prob=0.0).selected  # fmt: skip
    from bitbaselines.bpe import byte_symbols

    reverse = {ch: b for b, ch in enumerate(byte_symbols())}  # ByteLevel: one symbol per byte
    covered = sum(len(bytes(reverse[c] for c in tokenizer.id_to_token(int(t)))) for t in ids_t[sel])
    assert score.units == int(sel.sum())
    assert score.covered_bytes == covered
    assert score.bits == pytest.approx(score.units * math.log2(V))
    assert score.bpb == pytest.approx(score.units * math.log2(V) / covered)


def test_bpe_eval_bpb_with_a_zero_head_is_log2_vocab_per_covered_byte(tmp_path, tokenizer):
    config = BpeMLMConfig(**{**TINY_BPE, "vocab_size": tokenizer.get_vocab_size()})
    model = BpeMLM(config)
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)
    from bittrain.tasks.baseline_task import BpeTask

    task = BpeTask(config, tokenizer, seed=0)
    task.save_pretrained(model, tmp_path / "m")
    em = load_baseline(tmp_path / "m")
    windows = np.frombuffer(TEXT[: 3 * 100], dtype=np.uint8).reshape(3, 100)
    bits, covered = em.masked_bits(windows, rate=0.5, seed=2)
    units = bits / math.log2(config.vocab_size)
    assert units == pytest.approx(round(units))
    assert 0 < covered <= windows.size
    assert covered >= round(units)  # every token covers at least one byte


# -- save / load ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["byte", "bpe"])
def test_save_load_round_trip(tmp_path, kind):
    cfg = TINY_BYTE if kind == "byte" else TINY_BPE
    task = make_baseline_task(kind, cfg, train_split=FakeSplit(TEXT), run_dir=tmp_path, seed=1,
                              total_steps=3)  # fmt: skip
    _train(task, 3)
    task.save_pretrained(task.model, tmp_path / "model")
    em = load_baseline(tmp_path / "model")
    assert em.kind == kind
    texts = [b"Speak, speak.", b"", "\u4e2d\u6587 ok".encode(), b"\xff\xfe broken utf-8"]
    task.model.eval()
    from bittrain.tasks.baseline_eval import BpeEvalModel, ByteEvalModel

    fresh = (ByteEvalModel(task.model) if kind == "byte"
             else BpeEvalModel(task.model, task.tokenizer))  # fmt: skip
    assert np.allclose(em.features(texts), fresh.features(texts), atol=1e-6)
    windows = np.frombuffer(TEXT[:512], dtype=np.uint8).reshape(4, 128)
    assert em.masked_bits(windows) == pytest.approx(fresh.masked_bits(windows))
    assert em.flops_per_byte(256) > 0
    assert np.all(em.features([b""]) == 0)


def test_features_do_not_depend_on_batch_neighbours(tmp_path):
    task = make_baseline_task("byte", TINY_BYTE, train_split=None, run_dir=tmp_path, seed=0,
                              total_steps=1)  # fmt: skip
    task.save_pretrained(task.model, tmp_path / "m")
    em = load_baseline(tmp_path / "m")
    alone = em.features([b"short"])
    together = em.features([b"a much longer text that forces padding of the short one", b"short"])
    assert np.allclose(alone[0], together[1], atol=1e-5)


def test_load_baseline_errors(tmp_path):
    with pytest.raises(BitbaselinesError, match=r"config\.json"):
        load_baseline(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bitswin"}')
    with pytest.raises(BittrainError, match="not a baseline"):
        load_baseline(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "byte_mlm"}')
    with pytest.raises(BitbaselinesError, match=r"model\.safetensors"):
        load_baseline(tmp_path)


def test_config_errors_name_the_key():
    with pytest.raises(BitbaselinesError, match="'widht'"):
        make_baseline_task("byte", {"widht": 3}, train_split=None, run_dir=None, seed=0,
                           total_steps=1)  # fmt: skip
    with pytest.raises(BitbaselinesError, match="preset 'huge'"):
        make_baseline_task("byte", {"preset": "huge"}, train_split=None, run_dir=None, seed=0,
                           total_steps=1)  # fmt: skip
    with pytest.raises(BittrainError, match="kind 'gpt'"):
        make_baseline_task("gpt", {}, train_split=None, run_dir=None, seed=0, total_steps=1)
    with pytest.raises(BitbaselinesError, match="divisible"):
        make_baseline_task("byte", {"d_model": 30, "n_heads": 4}, train_split=None, run_dir=None,
                           seed=0, total_steps=1)  # fmt: skip


# -- optional EvalModel extras -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["byte", "bpe"])
def test_byte_states_cover_real_bytes_and_zero_padding(tmp_path, kind):
    cfg = TINY_BYTE if kind == "byte" else TINY_BPE
    task = make_baseline_task(kind, cfg, train_split=FakeSplit(TEXT), run_dir=tmp_path, seed=0,
                              total_steps=1)  # fmt: skip
    task.save_pretrained(task.model, tmp_path / "m")
    em = load_baseline(tmp_path / "m")
    windows = np.frombuffer(TEXT[:96], dtype=np.uint8).reshape(2, 48).copy()
    pad = np.zeros_like(windows, dtype=bool)
    pad[1, 30:] = True
    states = em.byte_states(windows, pad=pad)
    assert states.shape == (2, 48, cfg["d_model"])
    assert np.all(states[1, 30:] == 0)
    assert np.all(np.abs(states[0]).sum(axis=-1) > 0)
    assert np.all(np.abs(states[1, :30]).sum(axis=-1) > 0)
    assert em.num_params == sum(p.numel() for p in task.model.parameters())
    if kind == "bpe":  # the bytes of one token share its vector
        ids, _, _ = encode_windows(task.tokenizer, windows[:1], max_tokens=64)
        first = int(token_byte_lengths(task.tokenizer)[ids[0, 0]])
        assert np.allclose(states[0, :first], states[0, :1])


def test_byte_log_probs_are_normalised_and_use_the_mask():
    model = _byte_model()
    from bittrain.tasks.baseline_eval import ByteEvalModel

    em = ByteEvalModel(model)
    data = np.frombuffer(b"hello world", dtype=np.uint8)
    hidden = np.zeros(len(data), dtype=bool)
    hidden[3] = True
    lp = em.byte_log_probs(data, hidden)
    assert lp.shape == (len(data), 256)
    assert np.allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-5)
    assert not np.allclose(lp, em.byte_log_probs(data, np.zeros_like(hidden)))


def test_bitswin_model_keys_get_a_pointed_message():
    with pytest.raises(BitbaselinesError, match="'depths' is a bitswin setting"):
        make_baseline_task("byte", {"depths": [1, 1]}, train_split=None, run_dir=None, seed=0,
                           total_steps=1)  # fmt: skip
