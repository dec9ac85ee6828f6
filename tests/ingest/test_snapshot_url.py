"""Bootstrapping an empty store from an Ergast-format dump downloaded over HTTP (F1_SNAPSHOT_URL),
against a local server: the whole dump lands in one run, the API is not needed for it, and a
download that is not a usable dump is refused by name while the API bootstrap still gets its turn."""
from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest

from f1core.config import load_settings
from f1core.ingest.ergast_csv import read_dump
from f1core.ingest.http import SourceError
from f1core.ingest.refresh import refresh
from f1core.ingest.snapshot_url import import_dump_from_url
from f1core.store import Store
from tests.conftest import FIXTURES
from tests.ingest.apiserver import FakeApi, Reply

DUMP = FIXTURES / "ergast_mini"


def dump_zip() -> bytes:
    """The mini dump zipped the way release archives are: the tables inside a `data/` folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for csv in sorted(DUMP.glob("*.csv")):
            zf.write(csv, f"data/{csv.name}")
    return buf.getvalue()


@pytest.fixture
def api():
    with FakeApi() as server:
        yield server


@pytest.fixture
def settings(tmp_path, api):
    env = {"F1_DB": str(tmp_path / "f1.duckdb"), "F1_TODAY": "2024-03-30", "F1_MODELS": str(tmp_path / "models"),
           "JOLPICA_URL": f"{api.base_url}/ergast/f1", "OPEN_METEO_URL": "http://127.0.0.1:9/v1/forecast",
           "FASTF1_CACHE": str(tmp_path / "fastf1"), "F1_SNAPSHOT_URL": f"{api.base_url}/releases/data.zip"}
    return load_settings(env, secrets_path=None)


def test_an_empty_store_is_filled_from_the_downloaded_dump_in_one_run(settings, api):
    api.route("/releases/data.zip", Reply(200, dump_zip(), {"Content-Type": "application/zip"}))
    store = Store(settings.db_path)
    outcomes = refresh(store, settings)
    steps = {o.step: o for o in outcomes}
    assert steps["snapshot-url"].ok and "jolpica-bootstrap" not in steps  # the API was not needed to fill it
    expected, _ = read_dump(DUMP)
    for table in ("races", "results", "qualifying", "drivers"):
        assert store.scalar(f"SELECT count(*) FROM {table}") == len(expected[table])
    assert store.last_race_with_results().name == "Saudi Arabian Grand Prix"
    runs = store.read("SELECT source, ok FROM ingestion_runs ORDER BY run_id")
    assert runs["source"].iloc[0] == f"ergast-url:{settings.snapshot_url}" and bool(runs["ok"].iloc[0])
    assert not list(settings.db_path.parent.glob("*.zip"))  # the download is not kept
    assert "jolpica" in steps  # then the API is asked for the races the dump does not have


@pytest.mark.parametrize("reply, message", [
    (Reply(200, "<html>Not Found</html>"), "not a zip file"),
    (Reply(200, dump_zip()[: len(dump_zip()) // 2]), "not a folder and not a readable zip"),  # cut short
    (Reply(404, "gone"), "HTTP 404"),
])
def test_a_download_that_is_no_dump_is_named_and_the_api_gets_its_turn(settings, api, reply, message):
    api.route("/releases/data.zip", reply)
    store = Store(settings.db_path)
    outcomes = refresh(store, settings)
    steps = {o.step: o for o in outcomes}
    assert not steps["snapshot-url"].ok and message in steps["snapshot-url"].message
    assert settings.snapshot_url in steps["snapshot-url"].message
    assert "jolpica-bootstrap" in steps  # the fallback was tried (here it finds nothing: no routes)
    assert store.is_empty()
    failed = store.read("SELECT source, ok FROM ingestion_runs WHERE source LIKE 'ergast-url:%'")
    assert list(failed["ok"]) == [False]


def test_a_dump_larger_than_the_cap_is_refused_before_it_is_kept(settings, api, tmp_path):
    api.route("/releases/data.zip", Reply(200, dump_zip()))
    store = Store(settings.db_path)
    with pytest.raises(SourceError, match="larger than 1000 bytes"):
        import_dump_from_url(store, settings.snapshot_url, tmp_path / "work", max_bytes=1000)
    assert store.is_empty() and not (tmp_path / "work").exists()


def test_a_local_snapshot_wins_over_the_url(settings, api):
    api.route("/releases/data.zip", Reply(200, dump_zip()))
    settings = dataclasses.replace(settings, snapshot=DUMP)
    steps = {o.step for o in refresh(Store(settings.db_path), settings)}
    assert "snapshot" in steps and "snapshot-url" not in steps
    assert "/releases/data.zip" not in api.paths()
