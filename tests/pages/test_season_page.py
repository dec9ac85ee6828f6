"""The Season page (AppTest) over the real snapshot with a trained model."""
from __future__ import annotations

from tests.pages.conftest import run_page, texts


def section(at, name: str):
    at.segmented_control(key="season_section").set_value(name)
    return at.run()


def test_title_odds_drivers_and_constructors(with_model):
    at = run_page("season.py", timeout=180)
    assert not at.exception and not at.error
    assert at.selectbox(key="season_season").value == 2026
    assert "cannot clinch the title at the Canadian Grand Prix" in texts(at.markdown)
    table = at.dataframe[0].value
    assert abs(table["p_title"].sum() - 1) < 1e-6 and len(table) >= 20
    assert (table["points_p10"] <= table["points_p90"]).all()
    at = section(at, "Constructors")
    assert not at.exception
    assert "mercedes" in set(at.dataframe[0].value["constructor_ref"])


def test_a_past_round_is_replayed(with_model):
    at = run_page("season.py", timeout=180)
    at.selectbox(key="season_season").set_value(2025).run()
    at.selectbox(key="season_after_2025").set_value(21).run()
    assert not at.exception and not at.error
    assert "a replay with models trained before 2025 R22" in texts(at.caption)
    assert "Las Vegas Grand Prix" in texts(at.markdown)
    assert "2025" in at.query_params["season"]


def test_the_what_if_forces_the_next_winner(with_model):
    at = run_page("season.py", timeout=180)
    at = section(at, "What if")
    at.selectbox(key="season_whatif_wins").set_value("russell").run()
    assert not at.exception and not at.error
    moved = at.dataframe[0].value.set_index("driver_ref")
    assert moved.loc["russell", "change"] > 0


def test_the_calendar_lists_every_race(with_model):
    at = run_page("season.py", timeout=180)
    at = section(at, "Calendar")
    assert not at.exception and not at.error
    cal = at.dataframe[0].value
    assert list(cal["round"]) == list(range(1, 23))
    assert cal.loc[cal["round"] == 4, "outlook"].item().startswith("🏆 ANT")
    assert "to win · podium" in cal.loc[cal["round"] == 5, "outlook"].item()
    assert cal.loc[cal["round"] == 5, "sprint"].item() == "sprint"
    assert " · sprint: " in cal.loc[cal["round"] == 5, "outlook"].item()
    assert "sprint won by NOR" in cal.loc[cal["round"] == 4, "outlook"].item()


def test_through_the_season_offers_a_replay(with_model):
    at = run_page("season.py", timeout=180)
    at = section(at, "Through the season")
    assert not at.exception and not at.error
    assert "are not kept yet" in texts(at.info)
    at.button(key="season_replay_button").click().run()
    assert not at.exception and not at.error
    assert at.get("plotly_chart") and "are not kept yet" not in texts(at.info)


def test_a_link_to_a_season_without_results_says_so(with_model):
    at = run_page("season.py", timeout=180, link={"season": "[1850](http://evil.example)"})
    assert not at.exception and not at.error
    warning = texts(at.warning)
    assert "has no results here; showing 2026" in warning
    assert "\\[1850\\]\\(http" in warning  # shown as text, never a link
    assert at.selectbox(key="season_season").value == 2026
    assert at.query_params["season"] == "2026"


def test_a_finished_season_shows_its_official_champions(with_model):
    """2007: Ferrari are constructors' champions (McLaren were excluded), and nothing is simulated."""
    at = run_page("season.py", timeout=180, link={"season": "2007"})
    assert not at.exception and not at.error
    shown = texts(at.subheader)
    assert "Kimi Räikkönen" in shown and "Ferrari" in shown and "McLaren" not in shown
    captions = texts(at.caption)
    assert "The final standings" in captions and "simulated seasons" not in captions
    assert "Constructors' champion" in captions and "Still to race" not in captions
    # no chances to show for a season that is over: each driver's place, points and wins
    standings = at.dataframe[0]
    assert list(standings.proto.column_order) == ["pos", "label", "final", "wins_now"]
    top = standings.value.iloc[0]
    assert top["driver_ref"] == "raikkonen" and top["pos"] == 1 and top["wins_now"] == 6
    # too early to replay: only the final standings are offered, and the page says why
    assert at.selectbox(key="season_after_2007").options == ["the latest result (round 17 of 17)"]
    at = section(at, "Through the season")
    assert not at.exception and not at.error
    assert "cannot be replayed: replays start in 2009" in texts(at.info)
    assert not [b for b in at.button if b.key == "season_replay_button"]


def test_the_odds_say_how_far_past_odds_at_that_point_held(with_model):
    """After 2026 round 4 the nearest replayed point is after round 6 (here of 2025 alone)."""
    import pandas as pd

    from f1core.engine import season_backtest as SB
    from pages._resources import get_engine

    at = run_page("season.py", timeout=180)
    assert not at.exception and "How far to trust these odds" not in texts(at.caption)  # nothing replayed yet
    engine = get_engine()
    row = SB.score(engine, SB.prepare(engine, 2025, 6), n_sims=2000)
    engine.records.add_season_backtest(pd.DataFrame([row]), 1.0, {"from": 2025, "to": 2025})
    at.run()
    assert not at.exception and not at.error
    words = texts(at.caption)
    assert "replayed after round 6 in 2025, the title favourite became champion in" in words
    assert f"{int(row['favourite_won'])} of 1 seasons (the points leader: {int(row['baseline_favourite_won'])} of 1)" \
        in words


def test_a_favourite_behind_the_leader_is_explained_and_a_leading_one_is_not(with_model):
    at = run_page("season.py", timeout=180)
    at.selectbox(key="season_after_2026").set_value(3).run()  # the replay after R3: Antonelli leads Russell by 9
    table = at.dataframe[0].value
    favourite = table.loc[table["p_title"].idxmax()]
    leader = table.loc[table["points_now"].idxmax()]
    assert leader["driver_ref"] == "antonelli" and favourite["driver_ref"] != "antonelli"
    line = next(m for m in texts(at.markdown).splitlines() if "is the title favourite though" in m)
    gain = favourite["points_expected"] - favourite["points_now"]
    assert (f"{favourite['driver_name']} is the title favourite though Andrea Kimi Antonelli leads by "
            f"{leader['points_now'] - favourite['points_now']:g} points: in the 19 weekends left the simulations have "
            f"{favourite['code']} scoring {gain:.0f} more points on average and ANT ") in line
    at.selectbox(key="season_after_2026").set_value(4).run()  # after R4 the leader (now by 20) is favourite
    table = at.dataframe[0].value
    assert table.loc[table["p_title"].idxmax(), "driver_ref"] == table.loc[table["points_now"].idxmax(), "driver_ref"]
    assert "is the title favourite though" not in texts(at.markdown)
