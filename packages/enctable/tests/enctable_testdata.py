"""Text made up for the tests (no shared data needed)."""

from __future__ import annotations

import random


def generated_english(n_words: int, seed: int = 0) -> bytes:
    """Zipf-distributed pseudo-words with spaces and newlines (no shared data needed)."""
    rnd = random.Random(seed)
    syll = ["ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "de", "po", "an", "el"]
    vocab = ["".join(rnd.choice(syll) for _ in range(rnd.randint(1, 3))) for _ in range(600)]
    vocab = list(dict.fromkeys(vocab))
    weights = [1.0 / (r + 1) for r in range(len(vocab))]
    words = rnd.choices(vocab, weights=weights, k=n_words)
    out = []
    for i, w in enumerate(words):
        out.append(w)
        out.append("\n" if i % 13 == 12 else " ")
    return "".join(out).encode()
