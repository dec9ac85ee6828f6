"""FastF1 session-weather adapter: offline behaviour with the real FastF1, aggregation and writing
with an injected loader, and deadlines with loaders that hang."""
from __future__ import annotations

import datetime as dt
import socket
import threading
import time

import numpy as np
import pandas as pd
import pytest

from f1core.ingest import fastf1_weather as fw
from f1core.ingest.fastf1_weather import aggregate_weather, import_session_weather
from f1core.store import Store

TODAY = dt.date(2025, 6, 1)


# -- helpers -----------------------------------------------------------------------------------
def make_store(tmp_path, races: list[tuple[int, int, str, bool]]) -> Store:
    """races: (season, round, date, has_results)."""
    store = Store(tmp_path / "f1.duckdb")
    frame = pd.DataFrame({
        "season": [s for s, _, _, _ in races],
        "round": [r for _, r, _, _ in races],
        "circuit_ref": [f"circuit_{s}_{r}" for s, r, _, _ in races],
        "name": [f"Grand Prix {s}-{r}" for s, r, _, _ in races],
        "date": [dt.date.fromisoformat(d) for _, _, d, _ in races],
    })
    done = [(s, r) for s, r, _, has in races if has]
    results = pd.DataFrame({
        "season": [s for s, _ in done for _ in range(2)],
        "round": [r for _, r in done for _ in range(2)],
        "driver_ref": ["max_verstappen", "norris"] * len(done),
        "constructor_ref": ["red_bull", "mclaren"] * len(done),
        "position_order": [1, 2] * len(done),
    })
    with store.transaction() as cur:
        Store.upsert(cur, {"races": frame, "results": results})
    return store


@pytest.fixture
def store(tmp_path):
    s = make_store(tmp_path, [
        (2017, 20, "2017-11-26", True),   # before FastF1 weather: never asked for
        (2025, 1, "2025-03-16", True),
        (2025, 2, "2025-03-23", True),
        (2025, 3, "2025-04-06", True),
        (2025, 4, "2025-04-13", True),
        (2025, 9, "2025-06-15", True),    # results but after `today` (clock override): not yet
        (2025, 10, "2025-06-29", False),  # upcoming
    ])
    yield s
    s.close()


def weather_samples(n: int = 100, rain: range = range(70, 85), seed: int = 0) -> pd.DataFrame:
    """A frame shaped like FastF1's `session.weather_data` (one sample a minute), with known means."""
    i = np.arange(n)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "Time": pd.to_timedelta(i * 60 + 30, unit="s"),
        "AirTemp": 24.0 + 0.1 * (i % 10),          # mean 24.45, min 24.0, max 24.9
        "Humidity": 40.0 + (i % 4),               # mean 41.5
        "Pressure": 1012.0 + 0.1 * (i % 2),       # mean 1012.05
        "Rainfall": np.isin(i, list(rain)),       # 15 of 100 samples by default
        "TrackTemp": 35.0 + 0.2 * (i % 10),       # mean 35.9
        "WindDirection": rng.integers(0, 360, n),
        "WindSpeed": 1.0 + 0.5 * (i % 3),         # 34 x 1.0, 33 x 1.5, 33 x 2.0: mean 1.495
    })


def last_run(store: Store) -> dict:
    frame = store.read("SELECT * FROM ingestion_runs ORDER BY run_id DESC LIMIT 1")
    return frame.iloc[0].to_dict()


def fastf1_rows(store: Store) -> pd.DataFrame:
    return store.read("SELECT * FROM weather_observed WHERE source = 'fastf1' ORDER BY season, round")


@pytest.fixture(autouse=True)
def no_stuck_fastf1_workers():
    """A test that leaves a real FastF1 worker past its deadline must not block the next test."""
    yield
    for thread in list(fw._stuck_fastf1_workers):
        thread.join(30)
    fw._stuck_fastf1_workers.clear()


# -- (1) the real FastF1, offline --------------------------------------------------------------
def assert_unreachable_run(store: Store, result, started: float, bound: float) -> None:
    assert time.monotonic() - started < bound
    run = last_run(store)
    assert run["run_id"] == result.run_id and run["source"] == "fastf1"
    assert run["ok"] is True or run["ok"] == 1
    assert run["rows_added"] == 0
    assert result.total_added == 0
    assert fastf1_rows(store).empty
    assert "FastF1 unreachable" in run["message"]
    assert "3 races skipped: no network" in run["message"]


def test_real_fastf1_without_network_returns_quickly(store, tmp_path, monkeypatch):
    """This machine and CI have no internet; also make sure of it by failing name resolution."""
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    cache = tmp_path / "cache" / "fastf1"
    started = time.monotonic()
    result = import_session_weather(store, cache, TODAY, timeout_s=20)
    assert_unreachable_run(store, result, started, bound=20)
    assert cache.is_dir()  # the cache folder is created


def test_real_fastf1_as_is_never_raises(store, tmp_path):
    """No patching at all: whatever the network does, the import returns in time and is ok."""
    started = time.monotonic()
    result = import_session_weather(store, tmp_path / "ff1", TODAY, timeout_s=15)
    assert time.monotonic() - started < 20
    run = last_run(store)
    assert bool(run["ok"]) and run["run_id"] == result.run_id
    if result.total_added == 0:  # offline, as here and on CI
        assert "FastF1 unreachable" in run["message"] or "skipped" in run["message"]


def test_real_fastf1_offline_mode_with_empty_cache(store, tmp_path):
    import fastf1

    cache = tmp_path / "offline-cache"
    cache.mkdir()
    fastf1.Cache.configure(cache_dir=str(cache))
    fastf1.Cache.offline_mode(True)
    try:
        started = time.monotonic()
        result = import_session_weather(store, cache, TODAY, timeout_s=20)
        # the importer kept the caller's offline setting (it did not re-configure the same folder)
        assert fastf1.Cache._requests_session_cached.settings.only_if_cached is True
    finally:
        fastf1.Cache.offline_mode(False)
    assert_unreachable_run(store, result, started, bound=20)


def test_dns_that_hangs_is_cut_by_the_deadline(store, tmp_path, monkeypatch):
    release = threading.Event()

    def hanging_dns(*args, **kwargs):
        release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_dns)
    started = time.monotonic()
    result = import_session_weather(store, tmp_path / "ff1", TODAY, timeout_s=1.0)
    elapsed = time.monotonic() - started
    assert elapsed < 5
    run = last_run(store)
    assert bool(run["ok"]) and result.total_added == 0
    assert "FastF1 unreachable" in run["message"] and "timed out" in run["message"]
    assert len(fw._stuck_fastf1_workers) == 1

    # while that worker still runs, a new run does not start a second FastF1 load beside it
    again = import_session_weather(store, tmp_path / "ff1", TODAY, timeout_s=1.0)
    assert "still running" in again.message and again.total_added == 0
    assert bool(last_run(store)["ok"])

    release.set()
    for thread in fw._stuck_fastf1_workers:
        thread.join(20)
        assert not thread.is_alive()


def test_unusable_cache_folder_is_reported_not_raised(store, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should go")
    result = import_session_weather(store, blocker / "cache", TODAY, timeout_s=5)
    run = last_run(store)
    assert bool(run["ok"]) and result.total_added == 0
    assert "FastF1 unavailable" in run["message"] and "3 races skipped" in run["message"]


def test_fastf1_logging_is_quieted_and_sign_in_never_prompts(tmp_path, monkeypatch):
    import logging

    from fastf1.exceptions import F1AuthError
    from fastf1.internals.f1account import token_manager

    fw.fastf1_loader(tmp_path / "ff1")
    assert logging.getLogger("fastf1").getEffectiveLevel() >= logging.WARNING
    monkeypatch.delenv("F1_USERNAME", raising=False)
    monkeypatch.delenv("F1_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    with pytest.raises(F1AuthError):
        token_manager._default_auth_func()


# -- (2) injected loader: aggregation, writing, idempotence, per-race failures ----------------
def test_aggregate_weather_values():
    agg = aggregate_weather(weather_samples())
    assert agg["air_temp"] == pytest.approx(24.45)
    assert agg["track_temp"] == pytest.approx(35.9)
    assert agg["humidity"] == pytest.approx(41.5)
    assert agg["pressure"] == pytest.approx(1012.05)
    assert agg["wind_speed"] == pytest.approx(1.495)
    assert agg["rainfall_rate"] == pytest.approx(0.15)
    assert agg["temp_max"] == pytest.approx(24.9) and agg["temp_min"] == pytest.approx(24.0)
    assert agg["wet"] is True

    dry = aggregate_weather(weather_samples(rain=range(0)))
    assert dry["rainfall_rate"] == 0.0 and dry["wet"] is False

    as_text = weather_samples()
    as_text["Rainfall"] = as_text["Rainfall"].map({True: "True", False: "False"})
    assert aggregate_weather(as_text)["rainfall_rate"] == pytest.approx(0.15)

    with pytest.raises(fw.NoWeatherData):
        aggregate_weather(weather_samples().iloc[0:0])
    with pytest.raises(fw.NoWeatherData):
        aggregate_weather(None)


def test_injected_loader_writes_aggregates_newest_first(store, tmp_path):
    calls = []
    frames = {(2025, 4): weather_samples(), (2025, 3): weather_samples(rain=range(0)),
              (2025, 2): weather_samples(rain=range(0, 100))}

    def loader(season, round_):
        calls.append((season, round_))
        return frames[(season, round_)]

    messages = []
    result = import_session_weather(store, tmp_path / "unused", TODAY, loader=loader, progress=messages.append)
    assert calls == [(2025, 4), (2025, 3), (2025, 2)]  # newest first, at most 3, none after `today`
    assert len(messages) == 3 and "2025 R4" in messages[0]
    assert result.rows_added == {"weather_observed": 3}
    assert not (tmp_path / "unused").exists()  # an injected loader never touches FastF1's cache

    rows = fastf1_rows(store).set_index("round")
    wet = rows.loc[4]
    assert wet["air_temp"] == pytest.approx(24.45)
    assert wet["track_temp"] == pytest.approx(35.9)
    assert wet["humidity"] == pytest.approx(41.5)
    assert wet["pressure"] == pytest.approx(1012.05)
    assert wet["wind_speed"] == pytest.approx(1.495)
    assert wet["rainfall_rate"] == pytest.approx(0.15)
    assert wet["temp_max"] == pytest.approx(24.9) and wet["temp_min"] == pytest.approx(24.0)
    assert bool(wet["wet"]) is True
    assert pd.isna(wet["precipitation_mm"]) and pd.isna(wet["precipitation_hours"])
    assert bool(rows.loc[3]["wet"]) is False and rows.loc[3]["rainfall_rate"] == 0.0
    assert rows.loc[2]["rainfall_rate"] == pytest.approx(1.0) and bool(rows.loc[2]["wet"]) is True

    run = last_run(store)
    assert bool(run["ok"]) and run["rows_added"] == 3
    assert "weather_observed +3" in run["message"]


def test_runs_are_idempotent_and_work_back_through_older_races(store, tmp_path):
    calls = []

    def loader(season, round_):
        calls.append((season, round_))
        return weather_samples()

    import_session_weather(store, tmp_path, TODAY, loader=loader)
    second = import_session_weather(store, tmp_path, TODAY, loader=loader)
    assert calls[3:] == [(2025, 1)]  # the one race still missing; never 2017, never after today
    assert second.rows_added == {"weather_observed": 1}

    third = import_session_weather(store, tmp_path, TODAY, loader=loader)
    assert len(calls) == 4 and third.total_added == 0  # nothing left to fetch
    assert len(fastf1_rows(store)) == 4
    assert bool(last_run(store)["ok"]) and last_run(store)["rows_added"] == 0


def test_other_sources_do_not_count_as_fastf1_weather(store, tmp_path):
    with store.transaction() as cur:
        Store.upsert(cur, {"weather_observed": pd.DataFrame({
            "season": [2025, 2025], "round": [4, 3], "source": ["openmeteo", "fastf1"],
            "air_temp": [20.0, 21.0], "wet": [False, False]})})
    calls = []
    import_session_weather(store, tmp_path, TODAY, loader=lambda s, r: calls.append((s, r)) or weather_samples())
    assert calls == [(2025, 4), (2025, 2), (2025, 1)]


def test_a_loader_that_fails_for_one_race_skips_only_that_race(store, tmp_path):
    def loader(season, round_):
        if round_ == 3:
            raise KeyError("'WeatherData' missing from the response")
        if round_ == 2:
            return weather_samples().iloc[0:0]  # FastF1 answered with no samples
        return weather_samples()

    result = import_session_weather(store, tmp_path, TODAY, loader=loader, max_races=4)
    assert sorted(fastf1_rows(store)["round"]) == [1, 4]
    assert result.rows_added == {"weather_observed": 2}
    message = last_run(store)["message"]
    assert "2 races skipped" in message
    assert "1 error (KeyError)" in message and "1 no weather data" in message
    assert bool(last_run(store)["ok"])

    # the error is tried again next time; the race FastF1 answered without weather waits its turn
    retried = []
    import_session_weather(store, tmp_path, TODAY, loader=lambda s, r: retried.append(r) or weather_samples())
    assert retried == [3]


def test_a_race_answered_without_weather_waits_longer_each_time_and_lets_older_races_through(store, tmp_path):
    start = dt.datetime(2025, 6, 1, 12, 0)
    asked = []

    def loader(season, round_):
        asked.append(round_)
        if round_ == 4:
            return weather_samples().iloc[0:0]  # FastF1 has no weather for the newest race (yet)
        if round_ == 3:
            samples = weather_samples()
            samples["Humidity"] *= 10  # and nothing true for the one before
            return samples
        return weather_samples()

    def run(at):
        asked.clear()
        import_session_weather(store, tmp_path, TODAY, loader=loader, max_races=2, now=at)
        return list(asked)

    assert run(start) == [4, 3]
    assert last_run(store)["message"] == (
        "2 races skipped: 1 no weather data, 1 values that cannot be true; "
        "2025 R4 (no weather data, 1 answer so far) asked again after 01 Jun 2025, 18:00 UTC; "
        "2025 R3 (values that cannot be true, 1 answer so far) asked again after 01 Jun 2025, 18:00 UTC")
    assert run(start + dt.timedelta(hours=1)) == [2, 1]  # the older races get their turn
    assert run(start + dt.timedelta(hours=2)) == []  # nothing to ask for yet: no refresh spends a call
    assert last_run(store)["message"] == "no completed races without FastF1 weather"
    assert run(start + dt.timedelta(hours=6)) == [4, 3]  # 6 hours after the first answer
    assert run(start + dt.timedelta(hours=17)) == []  # then 12 hours
    assert run(start + dt.timedelta(hours=18)) == [4, 3]
    misses = store.read("SELECT round, reason, tries, retry_at FROM source_misses ORDER BY round")
    assert misses.to_dict("list") == {"round": [3, 4], "reason": [fw.IMPLAUSIBLE, fw.NO_DATA], "tries": [3, 3],
                                      "retry_at": [pd.Timestamp(start + dt.timedelta(hours=42))] * 2}
    assert fw.retry_wait(30) == dt.timedelta(days=30)

    # once the weather is there, the race is fetched and no longer waits
    loader_with_data = lambda season, round_: asked.append(round_) or weather_samples()  # noqa: E731
    asked.clear()
    import_session_weather(store, tmp_path, TODAY, loader=loader_with_data, now=start + dt.timedelta(days=3))
    assert asked == [4, 3] and sorted(fastf1_rows(store)["round"]) == [1, 2, 3, 4]
    assert store.read("SELECT * FROM source_misses").empty


def test_network_errors_stop_the_run_early(store, tmp_path):
    import requests

    calls = []

    def loader(season, round_):
        calls.append(round_)
        raise requests.exceptions.ConnectionError("Failed to resolve 'livetiming.formula1.com'")

    result = import_session_weather(store, tmp_path, TODAY, loader=loader)
    assert calls == [4]
    assert result.total_added == 0
    assert result.message == "FastF1 unreachable, weather not fetched (3 races skipped: no network)"
    assert bool(last_run(store)["ok"])


def test_nothing_to_do(tmp_path):
    store = make_store(tmp_path, [(2025, 1, "2025-03-16", False)])
    result = import_session_weather(store, tmp_path, TODAY, loader=lambda s, r: pytest.fail("not called"))
    assert result.total_added == 0 and "no completed races" in result.message
    store.close()


# -- (3) loaders that hang ---------------------------------------------------------------------
def test_a_hanging_loader_does_not_hang_the_import(store, tmp_path):
    release = threading.Event()

    def loader(season, round_):
        if round_ == 3:
            release.wait(30)  # "hangs" far past the deadline
        return weather_samples()

    try:
        started = time.monotonic()
        result = import_session_weather(store, tmp_path, TODAY, timeout_s=1.0, loader=loader)
        assert time.monotonic() - started < 3
    finally:
        release.set()
    # the race before the hang landed; the hung one and the ones after it are skipped
    assert list(fastf1_rows(store)["round"]) == [4]
    assert result.rows_added == {"weather_observed": 1}
    run = last_run(store)
    assert bool(run["ok"]) and "2 races skipped: timed out" in run["message"]


def test_a_loader_that_hangs_on_the_first_race(store, tmp_path):
    release = threading.Event()
    try:
        started = time.monotonic()
        result = import_session_weather(store, tmp_path, TODAY, timeout_s=0.5,
                                        loader=lambda s, r: release.wait(30))
        assert time.monotonic() - started < 2.5
    finally:
        release.set()
    assert result.total_added == 0
    assert result.message == "FastF1 unreachable, weather not fetched (3 races skipped: timed out)"
    assert bool(last_run(store)["ok"])


def test_a_race_whose_weather_cannot_be_true_is_skipped_and_said(store, tmp_path, caplog):
    def loader(season, round_):
        samples = weather_samples()
        if round_ == 3:
            samples["Humidity"] *= 10  # per mille: 415 %
        return samples

    result = import_session_weather(store, tmp_path, TODAY, loader=loader)
    assert sorted(fastf1_rows(store)["round"]) == [2, 4]
    assert result.rows_added == {"weather_observed": 2}
    assert "1 race skipped: values that cannot be true" in last_run(store)["message"]
    assert "FastF1 2025 R3: session means: humidity 415 % cannot be true" in caplog.text
