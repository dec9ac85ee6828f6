"""The What-if page: weather and grid changes redraw the chances beside the race as it is, and the
scenario round-trips through the URL's query string."""
from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import run_page, shown, texts

PAGE = "what_if.py"


def movers(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "win_change" in d.value.columns).set_index("driver_ref")


def open_link(params: dict[str, str]) -> AppTest:
    return run_page(PAGE, timeout=120, link=params)


def test_opens_on_the_next_race_and_rain_moves_the_chances(with_model):
    at = run_page(PAGE, timeout=120)
    assert not at.exception and not at.error
    assert at.selectbox(key="whatif_race_select").value == (2026, 5)  # the Canadian GP
    options = at.selectbox(key="whatif_race_select").options
    assert len(options) == 18 + 5  # every race still to come (rounds 5 to 22) and the last five with results
    assert options[17] == "2026 R22 Abu Dhabi Grand Prix · upcoming"
    assert "This is the race as it is" in texts(at.info)
    before = movers(at)
    assert len(before) == 22
    assert (before["win_change"].abs() < 1e-9).all()
    assert abs(before["win_now"].sum() - 100) < 1
    assert at.query_params == {"season": "2026", "round": "5"}

    at.select_slider(key="whatif_rain").set_value(1.0).run()
    assert not at.exception and not at.error
    after = movers(at)
    assert (after["win_now"] - before.loc[after.index, "win_now"]).abs().max() > 0.1  # tenths of a point at least
    assert after["win_change"].abs().max() > 0.1
    assert after["biggest_change"].is_monotonic_decreasing  # biggest movers first
    assert "rain 100%" in texts(at.markdown)
    assert at.query_params == {"season": "2026", "round": "5", "rain": "1"}
    assert "?season=2026&round=5&rain=1" in at.code[0].value
    # back to the race's own value: the race as it is again
    at.select_slider(key="whatif_rain").set_value(at.session_state["whatif_defaults"]["rain"]).run()
    assert (movers(at)["win_change"].abs() < 1e-9).all()
    assert at.query_params == {"season": "2026", "round": "5"}


def test_moving_a_driver_to_pole_changes_his_chances(with_model):
    at = run_page(PAGE, timeout=120)
    at.selectbox(key="whatif_race_select").set_value((2026, 4)).run()  # Miami, real grid known
    assert not at.exception and not at.error
    base = movers(at)
    assert base.loc["hamilton", "grid_now"] == 6
    at.selectbox(key="whatif_move_driver").set_value("hamilton").run()
    at.slider(key="whatif_move_slot").set_value(1).run()
    assert not at.exception and not at.error
    moved = movers(at)
    assert moved.loc["hamilton", "grid_now"] == 1 and moved.loc["antonelli", "grid_now"] == 2
    assert moved.loc["hamilton", "win_now"] > base.loc["hamilton", "win_now"] + 1
    assert moved.loc["hamilton", "win_change"] > 1
    assert at.slider(key="whatif_move_slot").value == 1
    assert "HAM to P1" in texts(at.caption)
    assert at.query_params["slots"] == "hamilton:1"
    # Reset brings back the race as it is
    at.button(key="whatif_reset").click().run()
    assert (movers(at)["win_change"].abs() < 1e-9).all()
    assert movers(at).loc["hamilton", "grid_now"] == 6
    assert "slots" not in at.query_params


def test_links_restore_the_scenario_and_bad_parts_only_warn(with_model):
    at = open_link({"season": "2026", "round": "4", "rain": "0.6", "air_temp": "31", "slots": "hamilton:1"})
    assert not at.exception and not at.error and not at.warning
    assert at.selectbox(key="whatif_race_select").value == (2026, 4)
    assert at.select_slider(key="whatif_rain").value == 0.6
    assert at.slider(key="whatif_air_temp").value == 31
    assert at.selectbox(key="whatif_move_driver").value == "hamilton"
    table = movers(at)
    assert table.loc["hamilton", "grid_now"] == 1
    assert table["win_change"].abs().max() > 1
    assert "?season=2026&round=4&rain=0.6&air_temp=31&slots=hamilton:1" in at.code[0].value

    # an unknown driver, impossible slots and an impossible value: each named in a warning, the rest
    # of the link still applies
    at = open_link({"season": "2026", "round": "4", "slots": "nobody:3,hamilton:2,leclerc:99,norris:x",
                    "rain": "7"})
    assert not at.exception and not at.error
    warning = shown(at.warning)  # as the reader sees it: the echoed parts are escaped markdown
    assert "“nobody” is not in the field" in warning
    assert "grid slot for leclerc 99 is outside 1 to" in warning
    assert "grid slot for norris 'x' is not a whole number" in warning
    assert "rain=7 is outside 0 to 1" in warning
    assert movers(at).loc["hamilton", "grid_now"] == 2
    assert at.select_slider(key="whatif_rain").value == at.session_state["whatif_defaults"]["rain"]
    assert at.query_params == {"season": "2026", "round": "4", "slots": "hamilton:2"}

    # a whole grid naming a driver from another era is left out
    at = open_link({"season": "2026", "round": "4", "grid": "senna,hamilton"})
    assert not at.exception and not at.error
    assert "the grid order was left out (“senna” not in the field" in shown(at.warning)
    assert "This is the race as it is" in texts(at.info)

    # a whole grid (the drivers not named follow in their own order)
    at = open_link({"season": "2026", "round": "4", "grid": "hamilton,leclerc"})
    assert not at.exception and not at.error and not at.warning
    table = movers(at)
    assert (table.loc["hamilton", "grid_now"], table.loc["leclerc", "grid_now"], table.loc["antonelli", "grid_now"]) \
        == (1, 2, 3)
    assert "a new grid order" in texts(at.markdown)

    # no such race: the next race instead
    at = open_link({"season": "2031", "round": "x"})
    assert not at.exception and not at.error
    assert "there is no race" in shown(at.warning)
    assert at.selectbox(key="whatif_race_select").value == (2026, 5)


def test_a_link_at_the_sliders_own_values_is_the_race_as_it_is(with_model):
    """Canada has no forecast yet: the sliders start at the circuit's typical weather, and a link
    that sets them there asks for nothing else (as moving a slider back does)."""
    at = run_page(PAGE, timeout=120)
    defaults = at.session_state["whatif_defaults"]
    link = {"season": "2026", "round": "5", **{name: f"{value:g}" for name, value in defaults.items()}}
    at = open_link(link)
    assert not at.exception and not at.error and not at.warning
    assert (movers(at)["win_change"].abs() < 1e-9).all()
    assert "This is the race as it is" in texts(at.info)
    assert at.query_params == {"season": "2026", "round": "5"}


def test_a_race_with_empty_grid_slots_moves_cars_by_their_place(with_model):
    """2026 Australia: cars that qualified did not start, so 20 cars took slots up to 22. The slider
    counts places on the grid; a move keeps the empty slot empty and the cars behind in theirs."""
    at = run_page(PAGE, timeout=120)
    at.selectbox(key="whatif_race_select").set_value((2026, 1)).run()
    base = movers(at)
    assert len(base) == 20 and base["grid_now"].max() == 22
    at.selectbox(key="whatif_move_driver").set_value("stroll").run()
    assert not at.exception and not at.error
    assert at.slider(key="whatif_move_slot").value == 20 and at.slider(key="whatif_move_slot").max == 20
    fifth = sorted(base["grid_now"])[4]
    assert fifth > 5  # a slot ahead of it is empty
    at.slider(key="whatif_move_slot").set_value(5).run()  # the fifth car on the grid
    assert not at.exception and not at.error
    moved = movers(at)
    assert moved.loc["stroll", "grid_now"] == fifth
    assert sorted(moved["grid_now"]) == sorted(base["grid_now"])  # the same slots, the same gaps
    ahead = base[base["grid_now"] < fifth].index
    assert (moved.loc[ahead, "grid_now"] == base.loc[ahead, "grid_now"]).all()


def test_the_weather_caption_says_which_values_the_forecast_gives(with_model):
    """A forecast has rain and air temperature but no track temperature: the caption names the
    two it has and says the third starts at what is typical; the rain slider says where fully wet begins."""
    import datetime as dt

    from f1core.ingest.runs import ingestion_run
    from f1core.store import Store

    store = Store(with_model)
    with ingestion_run(store, "open-meteo") as run, run.transaction() as cur:
        run.add(Store.upsert(cur, {"weather_forecast": pd.DataFrame([dict(
            season=2026, round=5, source="openmeteo", fetched_at=dt.datetime(2026, 5, 10, 8),
            valid_at=dt.datetime(2026, 5, 24, 20), air_temp=18.3, precipitation_probability=0.6)])}))
    store.close()
    at = run_page(PAGE, timeout=120)
    assert not at.exception and not at.error
    caption = texts(at.caption)
    assert "The race as it is: 30% in rain, air 18.3 °C (forecast). Not known: track temperature" in caption
    assert "No weather is known" not in caption
    assert at.session_state["whatif_defaults"]["rain"] == 0.3
    assert "counts as fully wet" in at.select_slider(key="whatif_rain").help
