"""How chances are written for people."""
from __future__ import annotations

from pages._style import pct, pcts


def test_a_chance_is_a_whole_percent_tiny_ones_are_below_one_and_unknown_is_a_dash():
    assert [pct(0.368), pct(0.003), pct(0.0), pct(None)] == ["37%", "<1%", "0%", "—"]


def test_two_different_chances_that_would_read_the_same_get_a_decimal():
    # a favourite at 32.1% and the winner, ranked below him, at 31.7% must not both read "32%"
    assert pcts(0.321, 0.317) == ["32.1%", "31.7%"]
    assert pcts(0.321, 0.12) == ["32%", "12%"]
    assert pcts(0.25, 0.25) == ["25%", "25%"]  # the same chance reads the same
    assert pcts(0.321, None) == ["32%", "—"]
