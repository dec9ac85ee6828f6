import dataclasses
import threading
import time

import pytest

from f1core.config import load_settings
from f1core.ingest.refresh import Refresher, StepOutcome, refresh
from f1core.store import Store
from tests.conftest import FIXTURES


@pytest.fixture
def settings(tmp_path):
    env = {"F1_DB": str(tmp_path / "f1.duckdb"), "F1_TODAY": "2024-03-30", "F1_MODELS": str(tmp_path / "models"),
           "JOLPICA_URL": "http://127.0.0.1:9/ergast/f1", "OPEN_METEO_URL": "http://127.0.0.1:9/v1/forecast",
           "FASTF1_CACHE": str(tmp_path / "fastf1")}
    return load_settings(env, secrets_path=None)


def test_empty_store_bootstraps_from_the_snapshot_then_tries_the_api(settings):
    settings = dataclasses.replace(settings, snapshot=FIXTURES / "ergast_mini", weather=FIXTURES / "weather_mini")
    store = Store(settings.db_path)
    outcomes = refresh(store, settings)
    steps = {o.step: o for o in outcomes}
    assert steps["snapshot"].ok and steps["snapshot"].rows_added > 0 and steps["weather-csv"].ok
    assert not steps["jolpica"].ok and "127.0.0.1:9" in steps["jolpica"].message  # offline: named, not fatal
    assert store.last_race_with_results().name == "Saudi Arabian Grand Prix"


def test_nothing_to_bootstrap_from_is_reported_and_store_stays_empty(settings):
    store = Store(settings.db_path)
    outcomes = refresh(store, settings)
    assert [o.step for o in outcomes] == ["jolpica-bootstrap"] and not outcomes[0].ok
    assert store.is_empty()
    failed = store.read("SELECT source, ok, message FROM ingestion_runs")
    assert list(failed["ok"]) == [False] and "127.0.0.1:9" in failed["message"][0]


def test_one_refresh_at_a_time_and_status_for_the_ui(settings):
    store = Store(settings.db_path)
    release, started = threading.Event(), threading.Event()
    hook_calls = []

    def slow_refresh(store_, settings_, progress, use_api=True):
        progress("working")
        started.set()
        release.wait(10)
        return [StepOutcome("jolpica", True, 7, "7 rows"), StepOutcome("open-meteo", False, 0, "offline")]

    def hook(outcomes, progress):
        progress("retraining")
        hook_calls.append([o.step for o in outcomes])
        raise RuntimeError("a failing hook must not break the refresher")

    refresher = Refresher(store, settings, refresh_fn=slow_refresh, after_refresh=hook)
    assert refresher.trigger()
    assert started.wait(5)
    assert refresher.running and refresher.status().current_step == "working"
    assert not refresher.trigger()  # told so, not queued
    assert refresher.run_once() is None
    release.set()
    deadline = time.monotonic() + 5
    while refresher.running and time.monotonic() < deadline:
        time.sleep(0.02)
    status = refresher.status()
    assert not status.running and status.rows_added == 7
    assert status.last_success_at is not None and "open-meteo: offline" in status.last_error
    assert hook_calls == [["jolpica", "open-meteo"]]
    assert refresher.trigger()  # free again


def test_background_thread_runs_at_start_and_on_demand(settings):
    store = Store(settings.db_path)
    runs = []

    def counting_refresh(store_, settings_, progress, use_api=True):
        runs.append(time.monotonic())
        return []

    refresher = Refresher(store, settings, refresh_fn=counting_refresh)
    refresher.start()
    refresher.start()  # idempotent: still one thread
    deadline = time.monotonic() + 5
    while not runs and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(runs) == 1
    while refresher.running and time.monotonic() < deadline + 5:
        time.sleep(0.02)
    assert not refresher.running, "the first refresh did not finish within its deadline"
    assert refresher.trigger()
    while len(runs) < 2 and time.monotonic() < deadline + 5:
        time.sleep(0.02)
    assert len(runs) == 2
    refresher.stop()
