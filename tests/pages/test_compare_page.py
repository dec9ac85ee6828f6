"""The Head to head page (AppTest): two drivers of a season, restored from and written to the link."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.pages.conftest import run_page, texts


def open_link(params: dict[str, str]) -> AppTest:
    return run_page("compare.py", timeout=120, link=params)


def test_teammates_from_a_link(with_model):
    at = open_link({"season": "2025", "a": "norris", "b": "piastri"})
    assert not at.exception and not at.error and not at.warning
    assert at.selectbox(key="compare_a_2025").value == "norris"
    assert "NOR 423 – 410 PIA" in texts(at.subheader)  # the 2025 final points, races and sprints
    assert "**Teammates** in 24 races: NOR finished ahead 14 times, PIA 10 times" in texts(at.markdown)
    table = at.dataframe[0].value
    assert len(table) == 24 and set(table.columns) >= {"race", "a", "b", "quali"}


def test_last_seasons_duel_says_why_the_ratings_move_slowly(with_model):
    """After 2026 R4 Antonelli leads Russell 3 – 1 in both, yet rates below him: 2025 is why."""
    at = open_link({"season": "2026", "a": "antonelli", "b": "russell"})
    assert not at.exception and not at.error
    assert "ANT 3 – 1 RUS" in texts(at.subheader)
    assert ("**As teammates before 2026**: 2025 (Mercedes): ANT 3 – 21 RUS at the flag, 3 – 21 in qualifying. "
            "The driver ratings carry these duels into 2026") in texts(at.markdown)
    at = open_link({"season": "2026", "a": "norris", "b": "max_verstappen"})  # never teammates: nothing to say
    assert "As teammates before" not in texts(at.markdown)


def test_a_crafted_link_only_warns(with_model):
    at = open_link({"season": "2025", "a": "[click](http://evil.example)", "b": "piastri"})
    assert not at.exception and not at.error
    warning = texts(at.warning)
    assert "is not one of the choices" in warning
    assert "[click](http" not in warning and "\\[click\\]\\(http" in warning  # shown, never a link
    assert at.selectbox(key="compare_a_2025").value != "[click](http://evil.example)"
    assert at.query_params["a"] == at.selectbox(key="compare_a_2025").value  # the link now names a real driver
