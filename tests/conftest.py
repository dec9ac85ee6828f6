"""Shared fixtures: paths to the real snapshot beside the repository, and stores built from it."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from f1core.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ERGAST_DIR = SHARED_DATA / "ergast"
WEATHER_DIR = SHARED_DATA / "weather"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# Every table with a row per driver (or team) and race: what a race's outcome leaves in the store.
RACE_OUTCOME_TABLES = ("results", "sprint_results", "qualifying", "driver_standings", "constructor_standings",
                       "constructor_results", "pit_stops", "weather_observed")


def forget_outcomes(store: Store, where: str, params: list | None = None) -> None:
    """Delete what the races matching `where` (a condition on `season` and `round`) left in the
    store, as if they had not been run yet; their calendar entries stay."""
    with store.transaction() as cur:
        for table in RACE_OUTCOME_TABLES:
            cur.execute(f"DELETE FROM {table} WHERE {where}", params or [])


def _require_snapshot() -> None:
    if not ERGAST_DIR.is_dir():
        pytest.skip(f"the real snapshot is not beside the repository ({ERGAST_DIR} is absent)")


@pytest.fixture(scope="session")
def ergast_dir() -> Path:
    _require_snapshot()
    return ERGAST_DIR


@pytest.fixture(scope="session")
def weather_dir() -> Path:
    _require_snapshot()
    return WEATHER_DIR


@pytest.fixture(scope="session")
def snapshot_db(tmp_path_factory) -> Path:
    """A DuckDB file holding the whole real snapshot and its weather, built once per test run.
    Tests that write must copy it (see `snapshot_store`)."""
    _require_snapshot()
    from f1core.ingest.ergast_csv import import_dump
    from f1core.ingest.weather_csv import import_weather

    path = tmp_path_factory.mktemp("snapshot") / "f1.duckdb"
    store = Store(path)
    import_dump(store, ERGAST_DIR)
    import_weather(store, WEATHER_DIR)
    store.close()
    return path


@pytest.fixture
def snapshot_store(snapshot_db: Path, tmp_path: Path):
    """A private, writable copy of the snapshot store."""
    path = tmp_path / "f1.duckdb"
    shutil.copy(snapshot_db, path)
    store = Store(path)
    yield store
    store.close()
