"""The dashboard's read-only questions, over the fixture dump and over the real snapshot."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from f1core.config import load_settings
from f1core.ingest.ergast_csv import import_dump
from f1core.ingest.runs import IngestError
from f1core.ingest.weather_csv import import_weather
from f1core.store import Store
from f1core.views import insights
from tests.conftest import FIXTURES


@pytest.fixture
def mini(tmp_path):
    store = Store(tmp_path / "f1.duckdb")
    import_dump(store, FIXTURES / "ergast_mini")
    yield store
    store.close()


@pytest.fixture(scope="module")
def snapshot(snapshot_db):
    store = Store(snapshot_db, read_only=True)
    yield store
    store.close()


def test_ingestion_log_lists_runs_newest_first_with_failures(mini, tmp_path):
    bad = tmp_path / "weather"
    bad.mkdir()
    (bad / "openmeteo_race_weather.csv").write_text("not,a,weather,file\n1,2,3,4\n")
    with pytest.raises(IngestError):
        import_weather(mini, bad)
    log = insights.ingestion_log(mini, limit=10)
    assert list(log["outcome"]) == ["error", "ok"]
    assert log["source"].iloc[0].startswith("weather-csv:") and log["rows added"].iloc[0] == 0
    assert log["message"].iloc[0] and log["seconds"].notna().all()
    assert len(insights.ingestion_log(mini, limit=1)) == 1


def test_source_summary_joins_settings_and_the_log(mini, tmp_path):
    settings = dataclasses.replace(load_settings(env={}, secrets_path=None), snapshot=FIXTURES / "ergast_mini",
                                   weather=tmp_path / "nowhere")
    summary = insights.source_summary(mini, settings).set_index("setting")
    assert summary.loc["F1_SNAPSHOT", "rows added"] == sum(mini.table_counts().values())
    assert pd.notna(summary.loc["F1_SNAPSHOT", "last success"])
    assert summary.loc["F1_WEATHER", "value"].endswith("(missing)")
    assert summary.loc["JOLPICA_URL", "rows added"] == 0 and pd.isna(summary.loc["JOLPICA_URL", "last success"])
    assert "CC BY 4.0" in summary.loc["OPEN_METEO_URL", "credit"]


def test_table_rows_counts_every_source_table(mini):
    rows = insights.table_rows(mini).set_index("table")["rows"]
    assert rows["races"] == 3 and rows["results"] == 8 and rows["weather_forecast"] == 0


def test_standings_after_the_latest_round_with_standings(mini):
    table = insights.standings(mini, 2024)
    assert (table.round, table.race_name) == (1, "Bahrain Grand Prix")
    assert list(table.drivers["code"]) == ["VER", "PER"]
    assert table.drivers["team"].iloc[0] == "Red Bull"
    assert list(table.constructors["team"]) == ["Red Bull", "Ferrari"]
    assert insights.standings(mini, 1999) is None


def test_recent_form_is_one_column_per_race_oldest_first(mini):
    form = insights.recent_form(mini, 2024, last_n=5)
    assert form.races == ["R1 Bahrain GP", "R2 Saudi Arabian GP"]  # round 3 has no results
    ver = form.table.set_index("code").loc["VER"]
    assert (ver["R1 Bahrain GP"], ver["R2 Saudi Arabian GP"]) == ("P1", "P1")
    assert ver["points"] == 26 + 25 + 8  # race points plus the sprint win
    bea = form.table.set_index("code").loc["BEA"]
    assert pd.isna(bea["R1 Bahrain GP"]) and bea["R2 Saudi Arabian GP"] == "P4"
    assert form.table["code"].iloc[0] == "VER"  # championship order first
    assert insights.recent_form(mini, 1999).table.empty


def test_teammate_head_to_head_counts_duels_and_the_quali_gap(mini):
    duels = insights.teammate_head_to_head(mini, 2024).set_index(["driver_a", "driver_b"])
    red_bull = duels.loc[("VER", "PER")]
    assert (red_bull["races"], red_bull["quali_a"], red_bull["quali_b"]) == (2, 2, 0)
    assert (red_bull["race_a"], red_bull["race_b"]) == (2, 0)
    assert red_bull["gap_s"] == pytest.approx((0.358 + 0.335) / 2, abs=0.001)  # both Q3 laps
    ferrari = duels.loc[("LEC", "SAI")]
    assert (ferrari["quali_a"], ferrari["race_a"], ferrari["race_b"]) == (1, 0, 1)
    assert duels.index[0] == ("VER", "PER")  # the championship leader's team first


def test_teammates_before_1994_have_no_qualifying_score(snapshot):
    duels = insights.teammate_head_to_head(snapshot, 1988).set_index(["driver_a", "driver_b"])
    mclaren = duels.loc[("SEN", "PRO")]
    assert pd.isna(mclaren["quali_a"]) and mclaren["races"] == 16


def test_ratings_after_the_2026_rule_change_order_the_field_as_a_fan_would(snapshot):
    from f1core.engine.features import build_frame

    history = insights.rating_history(snapshot, build_frame(snapshot), 2026)
    assert sorted(history["round"].unique()) == [1, 2, 3, 4]
    latest = history[history["round"] == 4].set_index("driver_ref")
    assert len(latest) == 22 and latest.loc["max_verstappen", "code"] == "VER"
    assert latest.loc["antonelli", "rank"] <= 3  # three wins in four races: near the top
    slowest = set(latest.sort_values("car_rating").head(4)["constructor_ref"])
    assert slowest <= {"aston_martin", "cadillac", "williams", "audi", "sauber"}  # the slowest cars at the bottom
    assert (latest["strength"] - latest["car_rating"] - latest["driver_rating"]).abs().max() < 1e-9
