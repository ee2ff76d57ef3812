"""Gradients are bitwise reproducible on CPU with several threads (exact resume depends on it).

Advanced-indexing gathers (``x[index]``) back-propagate through ``index_put_`` with accumulate,
whose multi-threaded CPU kernel sums in a varying order; the bit stage's per-pattern gather must
use ``index_select`` (deterministic ``index_add_`` backward)."""

from __future__ import annotations

import torch
from bitswin import BitSwinConfig, BitSwinModel


def test_two_backward_passes_give_identical_gradients() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(0)
        model = BitSwinModel(BitSwinConfig.tiny())
        ids = torch.randint(0, 2, (4, 8 * 128))
        ids[:, ::37] = 2  # some hidden bits
        grads = []
        for _ in range(4):
            model.zero_grad()
            model(ids).byte_logits.float().square().mean().backward()
            grads.append(
                {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
            )
        for other in grads[1:]:
            assert all(torch.equal(grads[0][k], other[k]) for k in grads[0])
    finally:
        torch.set_num_threads(threads)
