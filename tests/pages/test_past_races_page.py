"""The Past races page: the last three races in tabs, the prediction's source, whether the winner
was called, and any earlier race by choice."""
from __future__ import annotations

from tests.pages.conftest import run_page, texts


def test_last_three_races_with_source_and_verdict(with_model):
    at = run_page("past_races.py", timeout=120)
    assert not at.exception
    assert not at.error
    labels = [t.label for t in at.tabs]
    assert labels[:3] == ["Miami GP 2026", "Japanese GP 2026", "Chinese GP 2026"]
    assert labels[3] == "Earlier races"
    headers = [h.value for h in at.subheader]
    assert headers[:3] == ["Miami Grand Prix 2026", "Japanese Grand Prix 2026", "Chinese Grand Prix 2026"]
    # the fixture has a 2026 backtest and no published predictions: the source is the backtest
    info = texts(at.info)
    assert info.count("Source: the backtest.") >= 3
    assert "after qualifying" in info
    # whether the winner was called, beside the grid baseline
    called = [m for m in at.metric if m.label == "Winner called?"]
    assert len(called) >= 3 and all(m.value in {"Yes", "No"} for m in called)
    assert "won" in texts(at.markdown)
    # the per-driver table: Miami's winner first, with the prediction beside the result
    tables = [d.value for d in at.dataframe if "expected_position" in d.value.columns]
    miami = tables[0]
    assert miami["position_order"].iloc[0] == 1 and miami["code"].iloc[0] == "ANT"
    assert miami["p_win"].notna().all() and abs(miami["p_win"].sum() - 1) < 0.02
    scores = [d.value for d in at.dataframe if "model_vs_grid" in d.value.columns]
    assert scores and scores[0]["grid baseline"].notna().all()


def test_an_earlier_race_without_any_prediction_still_shows_the_result(with_model):
    at = run_page("past_races.py", timeout=120)
    assert not at.exception
    at.selectbox(key="past_season").set_value(2025).run()
    assert not at.exception and not at.error
    race = at.selectbox(key="past_race_2025")
    assert race.value.round == 24  # the latest race of the season first
    warning = texts(at.warning)
    assert "No prediction for this race." in warning and "covers season 2026 only" in warning
    results = [d.value for d in at.dataframe if "position_text" in d.value.columns and "p_win" not in d.value.columns]
    assert results and results[-1]["code"].iloc[0] == "VER"  # Abu Dhabi 2025: Verstappen won
    # an earlier 2026 race (round 1 is not in the tabs) comes from the backtest
    at.selectbox(key="past_season").set_value(2026).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="past_race_2026").value.round == 1
    assert "Australian Grand Prix 2026" in [h.value for h in at.subheader]


def test_a_link_opens_an_earlier_race_and_each_race_links_to_itself(with_model):
    at = run_page("past_races.py", timeout=120, link={"season": "2025", "round": "10"})
    assert not at.exception and not at.error
    assert "could not be used" not in texts(at.warning)  # (the fixture's backtest covers 2026 alone: no prediction)
    assert at.selectbox(key="past_season").value == 2025
    assert at.selectbox(key="past_race_2025").value.round == 10
    assert "Canadian Grand Prix 2025" in [h.value for h in at.subheader]
    assert "[:material/link: link to this race](?season=2025&round=10)" in texts(at.caption)
    assert "(?season=2026&round=4)" in texts(at.caption)  # the tabs' races link to themselves too


def test_a_crafted_link_is_named_escaped_and_ignored(with_model):
    at = run_page("past_races.py", timeout=120, link={"season": "2025", "round": "<b>99</b>"})
    assert not at.exception and not at.error
    warning = texts(at.warning)
    assert "round=" in warning and "is not a race with results in 2025" in warning and "<b>" not in warning
    assert at.selectbox(key="past_season").value == 2026  # nothing chosen from the link
    at = run_page("past_races.py", timeout=120, link={"season": "1900"})
    assert "season=1900 has no race results here" in texts(at.warning)
