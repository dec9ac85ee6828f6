"""The Upcoming races page: three race tabs, each with the predicted qualifying and the race
chances, downloadable; the predictions shown are frozen in the prediction log."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from tests.pages.conftest import run_page, texts

RACE_TABS = ["R5 Canadian GP · 24 May", "R6 Monaco GP · 7 Jun", "R7 Barcelona GP · 14 Jun"]


def race_tables(at):
    """(qualifying table, race table) of the race on show."""
    frames = [d.value for d in at.dataframe]
    quali = next(f for f in frames if "pred_quali_gap_pct" in f.columns)
    race = [f for f in frames if "win_pct" in f.columns][-1]  # a sprint weekend shows the sprint first
    return quali, race


def shown_columns(at) -> list[list[str]]:
    """The columns each table puts on screen, in order (the CSV has more)."""
    return [list(d.proto.column_order) for d in at.dataframe]


def check_race(at, name: str, sprint: bool = False) -> None:
    assert not at.exception
    assert not at.error
    assert f"#### {name}" in texts(at.markdown)
    quali, race = race_tables(at)
    assert len(quali) == len(race) >= 20
    assert sorted(quali["pred_grid"]) == list(range(1, len(quali) + 1))
    assert (quali["pred_quali_time_lo_s"] <= quali["pred_quali_time_s"]).all()
    assert (quali["pred_quali_time_s"] <= quali["pred_quali_time_hi_s"]).all()
    # to the tenth, as far as a typical error of most of a second allows, with the interval beside
    assert quali["predicted_lap"].str.fullmatch(r"\d:\d\d\.\d").all()
    assert quali["lap_interval"].str.fullmatch(r"\d:\d\d\.\d–\d:\d\d\.\d").all()
    assert race["win_pct"].sum() == pytest.approx(100, abs=0.5)
    assert race["podium_pct"].sum() == pytest.approx(300, abs=1.5)
    assert race["expected_position"].is_monotonic_increasing
    assert (race["position_p10"] <= race["position_p90"]).all()
    assert len(at.get("download_button")) == 3 if sprint else 2
    if sprint:
        sprint_table = [d.value for d in at.dataframe if "win_pct" in d.value.columns][0]
        assert sprint_table["points_pct"].sum() == pytest.approx(800, abs=1)  # eight scoring places
        assert "to win the sprint" in texts(at.markdown)
    assert len(at.get("plotly_chart")) == 2  # the qualifying chart and the chosen race chart
    # every table names the drivers and their teams on screen, after the columns a phone reads first
    for columns in shown_columns(at):
        assert columns[0] in ("code", "pred_grid") and columns[-2:] == ["driver", "team"]
    assert {"expected_position", "position_range"} <= set(shown_columns(at)[-1])


def test_three_race_tabs_with_tables_and_downloads(with_model):
    at = run_page("upcoming.py", timeout=180)
    assert [t.label for t in at.tabs if t.label.startswith("R")] == RACE_TABS
    check_race(at, "Canadian Grand Prix", sprint=True)
    markdown = texts(at.markdown)
    assert "Before qualifying: the grid is the qualifying model's prediction." in markdown
    # Montreal is 4 days away, inside the forecast window: the reason is not that it is too early
    assert "no forecast yet (none could be fetched yet; the Data page shows the last refresh)" in markdown
    assert "each team's latest line-up" in texts(at.caption)


def shown_values(element) -> pd.DataFrame:
    """A table's cells as the reader sees them (the pandas Styler's display values)."""
    return pa.ipc.open_stream(element.proto.arrow_data.styler.display_values).read_pandas()


def test_a_tiny_chance_reads_below_one_percent_as_on_the_charts(with_model):
    """Backmarkers' win chances are small but not nothing: "<1%", never "0%"; the table still
    holds (and sorts by) the numbers."""
    at = run_page("upcoming.py", timeout=180)
    for element in [d for d in at.dataframe if "win_pct" in d.value.columns]:  # the sprint's and the race's
        numbers, shown = element.value, shown_values(element)
        tiny = (numbers["win_pct"] > 0) & (numbers["win_pct"] < 0.5)
        assert tiny.sum() >= 5 and (shown.loc[tiny, "win_pct"] == "<1%").all()
        assert shown.loc[numbers["win_pct"].idxmax(), "win_pct"] == f"{numbers['win_pct'].max():.0f}%"
        assert numbers["win_pct"].dtype.kind == "f"


def test_switching_race_tab_and_chart_tab(with_model):
    at = run_page("upcoming.py", timeout=180)
    at.session_state["upcoming_race"] = RACE_TABS[1]
    at.run()
    check_race(at, "Monaco Grand Prix")
    assert "Canadian Grand Prix" not in texts(at.markdown)
    assert "no forecast yet (Open-Meteo forecasts 16 days ahead)" in texts(at.markdown)  # 18 days away
    at.session_state["upcoming_2026_r6_charts"] = "Finishing range"
    at.run()
    assert not at.exception and not at.error
    assert "where 80% of the simulated races end" in texts(at.caption)
    at.session_state["upcoming_race"] = RACE_TABS[2]
    at.run()
    check_race(at, "Barcelona Grand Prix")


def test_the_predictions_shown_are_frozen(with_model):
    from pages._resources import get_store

    at = run_page("upcoming.py", timeout=180)
    assert not at.exception
    logged = get_store().read(
        "SELECT season, round, mode, count(*) AS n FROM prediction_log GROUP BY ALL ORDER BY round, mode")
    assert list(zip(logged["round"], logged["mode"])) == [(5, "pre-qualifying"), (5, "sprint"), (6, "pre-qualifying"),
                                                          (7, "pre-qualifying")]  # Canada is a sprint weekend


def test_without_a_model_the_page_offers_to_train_one(app_env, snapshot_db, monkeypatch):
    monkeypatch.setenv("F1_TODAY", "2026-05-10")
    app_env(snapshot_db)  # the models folder is empty
    at = run_page("upcoming.py", timeout=180)
    assert not at.exception
    assert "There is no trained model yet" in texts(at.info)
    assert not at.dataframe
    assert at.button(key="require_model_train")


def test_after_qualifying_the_grid_is_the_qualifying_order_and_nobody_is_left_out(with_model):
    """Montreal's qualifying is in (Miami's order stands in for it), without Stroll, who set no
    time: he still races, from the back, and the page says penalties are not applied yet."""
    from f1core.ingest.runs import ingestion_run
    from f1core.store import Store

    store = Store(with_model)
    quali = store.read("SELECT * FROM qualifying WHERE season = 2026 AND round = 4 AND driver_ref <> 'stroll'")
    with ingestion_run(store, "jolpica") as run, run.transaction() as cur:
        run.add(Store.upsert(cur, {"qualifying": quali.assign(round=5)}))
    store.close()
    at = run_page("upcoming.py", timeout=180)
    assert not at.exception and not at.error
    assert "After qualifying: the grid is the qualifying order. Grid penalties" in texts(at.markdown)
    race = race_tables(at)[1].set_index("code")
    assert len(race) == 22 and race.loc["STR", "grid"] == 22
    assert abs(race["win_pct"].sum() - 100) < 1


def test_a_sprint_already_run_shows_its_result_not_a_prediction(with_model):
    """Saturday night in Montreal: the sprint has run (Miami's result stands in for it), the race not."""
    from f1core.ingest.runs import ingestion_run
    from f1core.store import Store

    store = Store(with_model)
    sprint = store.read("SELECT * FROM sprint_results WHERE season = 2026 AND round = 4")
    with ingestion_run(store, "jolpica") as run, run.transaction() as cur:
        run.add(Store.upsert(cur, {"sprint_results": sprint.assign(round=5)}))
    winner = store.read("SELECT d.driver_name FROM sprint_results s JOIN driver_labels d USING (driver_ref) "
                        "WHERE season = 2026 AND round = 4 AND position_order = 1").iloc[0, 0]
    store.close()
    at = run_page("upcoming.py", timeout=180)
    assert not at.exception and not at.error
    markdown = texts(at.markdown)
    assert f"The sprint has been run: won by **{winner}**" in markdown
    assert "to win the sprint" not in markdown
    result = next(d.value for d in at.dataframe if "points" in d.value.columns and "pos" in d.value.columns)
    assert list(result["pos"]) == list(range(1, 9))


def test_each_race_explains_its_favourite_against_the_runner_up_once_asked(with_model):
    at = run_page("upcoming.py", timeout=180)
    _, race = race_tables(at)
    first, second = race.sort_values("win_pct", ascending=False)["code"].head(2)
    assert [e.label for e in at.expander if e.label.startswith("Why ")] == [f"Why {first} rather than {second}?"]
    at.session_state["upcoming_2026_r5_why"] = True
    at.run()
    assert not at.exception and not at.error
    reasons = [line for line in texts(at.markdown).splitlines() if line.startswith("- **")]
    assert len(reasons) == 5 and all(f": {first} " in line and f", {second} " in line for line in reasons)
