"""Training windows as a pure function of (seed, step, sample): sharded per rank, resumable.

Step ``s`` trains on the global samples ``s * batch_size + i`` for ``i < batch_size``. Each sample
is drawn from the corpus split with its own generator seeded by ``(seed, s, i)``, so the global
batch does not depend on how many workers share it (a 2-worker run and a 1-worker run see the
same windows) and resuming at step ``s`` needs nothing but ``s``. Rank ``r`` of ``W`` takes the
``r``-th contiguous block of ``batch_size / W`` samples and splits it into ``grad_accum``
micro-batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bittrain.errors import BittrainError

_DATA_STREAM = 0x0DA7A  # separates the data generator from other uses of the seed
_EVAL_STREAM = 0x0E7A1


@dataclass(frozen=True)
class Sharding:
    """How one optimizer step's global batch is split over workers and micro-batches."""

    batch_size: int  # global windows per optimizer step
    world_size: int
    rank: int
    grad_accum: int

    def __post_init__(self) -> None:
        parts = self.world_size * self.grad_accum
        if self.batch_size % parts:
            raise BittrainError(
                f"batch_size {self.batch_size} does not split over {self.world_size} worker(s) x "
                f"grad_accum {self.grad_accum}: choose a batch_size that is a multiple of {parts}"
            )

    @property
    def per_rank(self) -> int:
        return self.batch_size // self.world_size

    @property
    def micro_batch(self) -> int:
        return self.per_rank // self.grad_accum

    def sample_ids(self, step: int, micro: int) -> np.ndarray:
        """Global ids (int64 [micro_batch]) of this rank's micro-batch ``micro`` at ``step``."""
        first = step * self.batch_size + self.rank * self.per_rank + micro * self.micro_batch
        return np.arange(first, first + self.micro_batch, dtype=np.int64)


def draw_windows(
    split, ids: np.ndarray, seq_len: int, seed: int, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows uint8 [n, seq_len] and doc_starts bool [n, seq_len] for global sample ``ids``."""
    n = len(ids)
    windows = np.empty((n, seq_len), dtype=np.uint8)
    starts = np.empty((n, seq_len), dtype=bool)
    for row, gid in enumerate(ids.tolist()):
        step, index = divmod(int(gid), batch_size)
        rng = np.random.default_rng([seed, _DATA_STREAM, step, index])
        w, d = split.sample_windows(1, seq_len, rng)
        windows[row] = w[0]
        starts[row] = d[0]
    return windows, starts


def eval_windows(split, count: int, seq_len: int, eval_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed validation windows: the same for every run with the same eval_seed."""
    rng = np.random.default_rng([eval_seed, _EVAL_STREAM])
    return split.sample_windows(count, seq_len, rng)


MIN_SEQ_LEN = 8  # TrainConfig's lower bound


def check_split_size(split, name: str, seq_len: int, corpus: str) -> None:
    """One line for a split too small for a window, with a fix that works."""
    if split.num_bytes >= seq_len:
        return
    if split.num_bytes == 0:
        fix = (
            "re-create the store with `bitlab prepare-corpus` and a --val-fraction that gives "
            "both splits documents"
            if name == "val"
            else "re-create the store with more text"
        )
        raise BittrainError(f"the {name} split of corpus '{corpus}' is empty: {fix}")
    fix = (
        f"use a larger corpus or shorter windows: --set seq_len={split.num_bytes}"
        if split.num_bytes >= MIN_SEQ_LEN
        else "use a larger corpus"
    )
    raise BittrainError(
        f"the {name} split of corpus '{corpus}' has {split.num_bytes} bytes, fewer than one "
        f"window of seq_len={seq_len}: {fix}"
    )
