"""Unit-start scores move to character starts: continuation bytes never start a unit."""

from __future__ import annotations

import torch
from bitmask import char_level_scores


def test_ascii_is_unchanged() -> None:
    data = torch.tensor([list(b"ab cd")], dtype=torch.uint8)
    scores = torch.tensor([[0.5, 2.0, -1.0, 3.0, 0.25]])
    assert torch.equal(char_level_scores(data, scores), scores)


def test_a_character_scores_the_sum_of_its_bytes_on_its_first_byte() -> None:
    data = torch.tensor([list("a中b".encode())], dtype=torch.uint8)  # a, E4 B8 AD, b
    scores = torch.tensor([[1.0, 0.5, 4.0, 3.0, 2.0]])
    out = char_level_scores(data, scores)
    assert out[0, 0] == 1.0 and out[0, 4] == 2.0
    assert out[0, 1] == 7.5  # 0.5 + 4.0 + 3.0 on the lead byte
    floor = float(scores.min()) - 1.0
    assert out[0, 2] == floor and out[0, 3] == floor  # continuation bytes rank below all starts
    top = out[0].argsort(descending=True)[:3].tolist()
    assert set(top) == {0, 1, 4}


def test_rows_are_independent_and_a_leading_continuation_byte_may_start() -> None:
    row0 = list("中".encode())[1:] + list(b"x")  # starts mid-character: B8 AD x
    data = torch.tensor([row0, list(b"xyz")], dtype=torch.uint8)
    scores = torch.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    out = char_level_scores(data, scores)
    assert out[0, 0] == 2.0  # the partial character at the row start is one character
    assert torch.equal(out[1], scores[1])
