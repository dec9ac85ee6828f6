"""Open-Meteo forecasts for upcoming races, against a local server speaking Open-Meteo's JSON."""
from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest

from f1core.ingest.http import SourceError
from f1core.ingest.openmeteo import HOURLY, OpenMeteoClient, import_forecasts
from f1core.store import Store
from tests.ingest.apiserver import (
    FakeApi,
    FakeOpenMeteo,
    Reply,
    Seen,
    hourly_values,
    last_run,
    small_store,
    store_fingerprint,
)

UTC = dt.timezone.utc
BEFORE_BAHRAIN = dt.datetime(2025, 4, 8, 10, 0, tzinfo=UTC)  # Bahrain (13th) and Jeddah (20th) ahead


@pytest.fixture
def api():
    with FakeApi() as server:
        yield server


@pytest.fixture
def meteo(api):
    return FakeOpenMeteo(api)


@pytest.fixture(scope="module")
def small_store_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "f1.duckdb"
    small_store(path).close()
    return path


@pytest.fixture
def store(small_store_file, tmp_path):
    shutil.copy(small_store_file, tmp_path / "f1.duckdb")
    s = Store(tmp_path / "f1.duckdb")
    yield s
    s.close()


def client_for(fake: FakeOpenMeteo, **kw) -> OpenMeteoClient:
    return OpenMeteoClient(fake.base_url, rate_per_s=None, timeout=kw.pop("timeout", (1.0, 2.0)),
                           retries=kw.pop("retries", 1), backoff_factor=0.0, **kw)


def forecasts(store: Store) -> pd.DataFrame:
    return store.read("SELECT * FROM weather_forecast ORDER BY season, round")


def test_forecast_at_race_start_for_each_race_in_the_window(api, meteo, store):
    run = import_forecasts(store, client_for(meteo), BEFORE_BAHRAIN)
    rows = forecasts(store)
    assert rows["round"].tolist() == [4, 5]  # not R2/R3 (past, no results), not Miami (beyond 16 days)
    bahrain = rows.iloc[0]
    expected = hourly_values(15, 26.0325)  # the race starts at 15:00 UTC
    assert bahrain["source"] == "open-meteo"
    assert bahrain["valid_at"] == pd.Timestamp("2025-04-13 15:00")
    assert bahrain["fetched_at"] == pd.Timestamp("2025-04-08 10:00")
    assert bahrain["air_temp"] == pytest.approx(expected["temperature_2m"])
    assert bahrain["precipitation_probability"] == pytest.approx(expected["precipitation_probability"] / 100)
    assert bahrain["precipitation_mm"] == pytest.approx(expected["precipitation"])
    assert bahrain["humidity"] == pytest.approx(expected["relative_humidity_2m"])
    assert bahrain["wind_speed"] == pytest.approx(expected["wind_speed_10m"])
    assert rows.iloc[1]["valid_at"] == pd.Timestamp("2025-04-20 17:00")
    assert run.rows_added == {"weather_forecast": 2}

    first = api.seen[0].params
    assert (first["latitude"], first["longitude"]) == ("26.0325", "50.5106")
    assert first["hourly"].split(",") == HOURLY
    assert (first["timezone"], first["start_date"], first["end_date"]) == ("UTC", "2025-04-13", "2025-04-13")


def test_the_window_is_sixteen_days_counting_today(api, meteo, store):
    import_forecasts(store, client_for(meteo), dt.datetime(2025, 4, 4, 23, 0, tzinfo=UTC))
    assert forecasts(store)["round"].tolist() == [3, 4]  # Jeddah on the 20th is day 17
    import_forecasts(store, client_for(meteo), dt.datetime(2025, 4, 5, 0, 30, tzinfo=UTC))
    assert forecasts(store)["round"].tolist() == [3, 4, 5]  # ...and day 16 the next morning


def test_a_race_that_has_started_gets_no_forecast(api, meteo, store):
    import_forecasts(store, client_for(meteo), dt.datetime(2025, 4, 13, 15, 10, tzinfo=UTC))
    assert forecasts(store)["round"].tolist() == [5]


def test_a_newer_forecast_replaces_the_old_one_and_counts_as_added(api, meteo, store):
    import_forecasts(store, client_for(meteo), BEFORE_BAHRAIN)
    later = BEFORE_BAHRAIN + dt.timedelta(hours=6)
    run = import_forecasts(store, client_for(meteo), later)
    rows = forecasts(store)
    assert len(rows) == 2 and set(rows["fetched_at"]) == {pd.Timestamp("2025-04-08 16:00")}
    assert run.rows_added == {"weather_forecast": 2}
    assert last_run(store)["rows_added"] == 2


def test_a_start_off_the_hour_uses_the_hour_it_falls_in(api, meteo, store):
    with store.transaction() as cur:
        cur.execute("UPDATE races SET time = TIME '15:30:00' WHERE season = 2025 AND round = 4")
    import_forecasts(store, client_for(meteo), BEFORE_BAHRAIN)
    assert forecasts(store).iloc[0]["valid_at"] == pd.Timestamp("2025-04-13 15:00")


def test_a_circuit_without_coordinates_is_skipped_and_said_so(api, meteo, store):
    with store.transaction() as cur:
        cur.execute("UPDATE circuits SET lat = NULL, lng = NULL WHERE circuit_ref = 'jeddah'")
    run = import_forecasts(store, client_for(meteo), BEFORE_BAHRAIN)
    assert forecasts(store)["round"].tolist() == [4]
    assert "skipped 2025 R5" in run.message and "jeddah" in run.message


def test_nothing_to_forecast_is_a_successful_empty_run(api, meteo, store):
    run = import_forecasts(store, client_for(meteo), dt.datetime(2025, 6, 1, tzinfo=UTC))
    assert run.total_added == 0 and api.seen == []
    assert last_run(store)["ok"]


def test_the_next_race_on_the_real_snapshot(api, meteo, snapshot_store):
    # On 26 May 2026 Canada (24 May) has no results yet but is past; Monaco (7 June) is in range.
    run = import_forecasts(snapshot_store, client_for(meteo), dt.datetime(2026, 5, 26, 9, 0, tzinfo=UTC))
    rows = forecasts(snapshot_store)
    assert rows[["season", "round"]].values.tolist() == [[2026, 6]]
    assert rows.iloc[0]["valid_at"] == pd.Timestamp("2026-06-07 13:00")
    assert api.seen[0].params["latitude"].startswith("43.73")  # Monaco
    assert run.rows_added == {"weather_forecast": 1}


# --- bad answers: nothing is written, the run is logged with the URL ---------------------------------

def _altered(change):
    def install(api: FakeApi, meteo: FakeOpenMeteo) -> None:
        def handler(seen: Seen) -> Reply:
            body = meteo.body(seen)
            change(body)
            return Reply(200, body)
        api.route(FakeOpenMeteo.PATH, handler)
    return install


def _reply(*replies: Reply):
    def install(api: FakeApi, meteo: FakeOpenMeteo) -> None:
        api.route(FakeOpenMeteo.PATH, *replies)
    return install


def _drop_hour(body: dict) -> None:
    for values in body["hourly"].values():
        del values[15]


FAILURES = {
    "missing variable": (_altered(lambda b: b["hourly"].pop("precipitation_probability")),
                         "missing hourly.precipitation_probability"),
    "no hourly block": (_altered(lambda b: b.pop("hourly")), "missing 'hourly'"),
    "unequal arrays": (_altered(lambda b: b["hourly"]["wind_speed_10m"].pop()), "differ in length"),
    "race hour absent": (_altered(_drop_hour), "no entry for 2025-04-13T15:00"),
    "text for a number": (_altered(lambda b: b["hourly"]["temperature_2m"].__setitem__(15, "warm")),
                          "hourly.temperature_2m at 2025-04-13T15:00 is 'warm'"),
    "probability out of range": (_altered(lambda b: b["hourly"]["precipitation_probability"].__setitem__(15, 140)),
                                 "outside 0..100"),
    "not UTC": (_altered(lambda b: b.update(utc_offset_seconds=3600)), "not in UTC"),
    "Fahrenheit": (_altered(lambda b: b["hourly_units"].update(temperature_2m="°F")),
                   "hourly_units.temperature_2m is '°F', expected '°C'"),
    "HTTP 400 with a reason": (_reply(Reply(400, {"error": True, "reason": "Latitude must be in range of -90 to 90°."})),
                               "HTTP 400"),
    "not JSON": (_reply(Reply(200, "<html>Bad Gateway</html>")), "not valid JSON"),
    "persistent 503": (_reply(Reply(503, "Service Unavailable")), "HTTP 503"),
    "timeout": (_reply(Reply(200, {}, delay_s=2.0)), "timed out"),
}


@pytest.mark.parametrize("case", FAILURES, ids=list(FAILURES))
def test_a_bad_answer_changes_nothing_and_is_logged(api, meteo, store, case):
    install, expected = FAILURES[case]
    install(api, meteo)
    # A forecast from an earlier run must survive a failed one.
    with store.transaction() as cur:
        cur.execute("INSERT INTO weather_forecast (season, round, source, fetched_at, air_temp) "
                    "VALUES (2025, 4, 'open-meteo', TIMESTAMP '2025-04-07 10:00:00', 21.5)")
    before = store_fingerprint(store)
    with pytest.raises(SourceError) as err:
        import_forecasts(store, client_for(meteo, timeout=(1.0, 0.3)), BEFORE_BAHRAIN)
    message = str(err.value)
    assert expected in message, message
    assert f"{meteo.base_url}?" in message
    assert store_fingerprint(store) == before
    run = last_run(store)
    assert run["source"] == "open-meteo" and run["ok"] is not None and not run["ok"]
    assert meteo.base_url in run["message"]


def test_a_low_chance_of_rain_without_units_stays_low(api, meteo, store):
    """Percent is Open-Meteo's unit whether or not the answer says so: 1 is 1 %, never 100 %."""
    def one_percent(body: dict) -> None:
        body.pop("hourly_units")
        body["hourly"]["precipitation_probability"] = [1] * len(body["hourly"]["precipitation_probability"])

    _altered(one_percent)(api, meteo)
    import_forecasts(store, client_for(meteo), BEFORE_BAHRAIN)
    stored = store.read("SELECT precipitation_probability FROM weather_forecast")["precipitation_probability"]
    assert len(stored) and (stored == 0.01).all()


def test_the_reason_open_meteo_gives_is_in_the_error(api, meteo, store):
    api.route(FakeOpenMeteo.PATH, Reply(400, {"error": True, "reason": "Parameter 'start_date' is out of allowed range"}))
    with pytest.raises(SourceError, match="out of allowed range"):
        import_forecasts(store, client_for(meteo), BEFORE_BAHRAIN)
