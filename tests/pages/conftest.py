"""AppTest fixtures: a page file run headless against a small store, with settings from the
environment only (the test runs in a scratch folder, so no real .streamlit/secrets.toml applies)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from f1core.ingest.ergast_csv import import_dump
from f1core.ingest.weather_csv import import_weather
from f1core.store import Store
from pages._widgets import WORD_JOINER
from tests.conftest import FIXTURES, REPO

PAGES = REPO / "pages"
SETTING_NAMES = ["F1_DB", "F1_SNAPSHOT", "F1_SNAPSHOT_URL", "F1_WEATHER", "F1_TODAY", "F1_ADMIN_PASSWORD", "F1_MODELS",
                 "F1_REFRESH_HOURS", "JOLPICA_URL", "OPEN_METEO_URL", "FASTF1_CACHE"]


@pytest.fixture(scope="session")
def mini_db(tmp_path_factory) -> Path:
    """The three-race 2024 fixture dump and its weather, in a DuckDB file (copy before writing)."""
    path = tmp_path_factory.mktemp("mini") / "f1.duckdb"
    store = Store(path)
    import_dump(store, FIXTURES / "ergast_mini")
    import_weather(store, FIXTURES / "weather_mini")
    store.close()
    return path


@pytest.fixture
def app_env(monkeypatch, tmp_path):
    """Point the settings at a scratch folder; returns a function that selects the store file.
    The visitor is on the server's own machine (AppTest has no browser connection to tell), so
    without F1_ADMIN_PASSWORD admin actions are allowed, as for a developer; `remote_visitor`
    makes it someone elsewhere."""
    import pages._admin

    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pages._admin, "request_is_local", lambda: True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("F1_TODAY", "2024-03-30")
    monkeypatch.setenv("F1_MODELS", str(tmp_path / "models"))
    # Nothing listens here: anything that tries the APIs fails at once instead of going online.
    monkeypatch.setenv("JOLPICA_URL", "http://127.0.0.1:9/ergast/f1")
    monkeypatch.setenv("OPEN_METEO_URL", "http://127.0.0.1:9/v1/forecast")

    def use_store(source: Path | None) -> Path:
        db = tmp_path / "f1.duckdb"
        if source is not None:
            shutil.copy(source, db)
        monkeypatch.setenv("F1_DB", str(db))
        return db

    yield use_store
    # Each test gets its own store file; drop the cached Store, refresher and data.
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def remote_visitor(app_env, monkeypatch):
    """The page is opened from another machine (what every visitor of a deployment is)."""
    import pages._admin

    monkeypatch.setattr(pages._admin, "request_is_local", lambda: False)
    return app_env


def run_page(name: str, timeout: float = 60, link: dict[str, str] | None = None) -> AppTest:
    """The page run once, opened from a link with the query parameters `link` when given."""
    at = AppTest.from_file(str(PAGES / name), default_timeout=timeout)
    at.query_params.update(link or {})
    return at.run()


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def shown(elements) -> str:
    """`texts` as a reader sees them: markdown's backslash escapes and the invisible word joiners
    that keep bare addresses from becoming links (`escape_markdown`) removed."""
    return re.sub(r"\\(.)", r"\1", texts(elements)).replace(WORD_JOINER, "")


@pytest.fixture(scope="session")
def trained_snapshot(snapshot_db, tmp_path_factory) -> tuple[Path, Path]:
    """The real snapshot with a model trained by the lighter test set-up and a backtest of 2026,
    built once: (DuckDB file, models folder). Copy both before a test writes (see `with_model`)."""
    import datetime as dt

    from f1core.engine.service import Engine
    from tests.engine.conftest import FAST

    root = tmp_path_factory.mktemp("trained")
    db = root / "f1.duckdb"
    shutil.copy(snapshot_db, db)
    store = Store(db)
    engine = Engine(store, root / "models", FAST, today=dt.date(2026, 5, 10))
    engine.lifecycle.retrain()
    engine.lifecycle.run_backtest(2026)
    store.close()
    return db, root / "models"


@pytest.fixture
def with_model(app_env, trained_snapshot, monkeypatch, tmp_path):
    """Settings pointing at private copies of the trained snapshot and its models, with
    F1_TODAY=2026-05-10 (next race: 2026 R5 Canadian GP; last with results: R4 Miami)."""
    db, models = trained_snapshot
    shutil.copytree(models, tmp_path / "models")
    monkeypatch.setenv("F1_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("F1_TODAY", "2026-05-10")
    return app_env(db)


def open_tab(at: AppTest, label: str, key: str = "models_tab") -> AppTest:
    """Only the open tab of a page runs: open another one (of the tabs under `key`), as a click would."""
    at.session_state[key] = label
    return at.run()


def buttons(at: AppTest, key: str) -> list:
    return [b for b in at.button if b.key == key]


def models_dir() -> Path:
    return Path(os.environ["F1_MODELS"])
