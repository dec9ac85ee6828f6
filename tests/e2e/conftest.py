"""Browser tests in the style of Streamlit's own e2e_playwright: one real `streamlit run app.py`
per test session over a store built from the real snapshot, driven by headless Chromium.

The server runs offline on purpose: the API URLs point at a closed local port so the background
refresh fails fast, and F1_TODAY pins the calendar so "next race" and freshness are stable.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, TypeVar

import pytest

from tests.conftest import ERGAST_DIR, REPO, WEATHER_DIR

CHROMIUM = Path(os.environ.get("F1_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STARTUP_TIMEOUT_S = 60
T = TypeVar("T")
TODAY = "2026-05-10"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except OSError:
        return False


@pytest.fixture(scope="session")
def e2e_store(tmp_path_factory) -> Path:
    """The real snapshot with a model already trained (the lighter test set-up) and a short
    backtest, so the server's background upkeep has nothing heavy left to do while tests run."""
    if not ERGAST_DIR.is_dir():
        pytest.skip(f"browser tests need the real snapshot beside the repository ({ERGAST_DIR} is absent)")
    import datetime as dt

    from f1core.engine.service import Engine
    from f1core.ingest.ergast_csv import import_dump
    from f1core.ingest.weather_csv import import_weather
    from f1core.store import Store
    from tests.engine.conftest import FAST

    root = tmp_path_factory.mktemp("e2e-store")
    path = root / "f1.duckdb"
    store = Store(path)
    import_dump(store, ERGAST_DIR)
    import_weather(store, WEATHER_DIR)
    engine = Engine(store, root / "models", FAST, today=dt.date.fromisoformat(TODAY))
    engine.lifecycle.retrain()
    engine.lifecycle.run_backtest(2026)
    store.close()  # never opened by a server: each one runs on a copy (see running_app)
    return path


@contextmanager
def running_app(store: Path, workdir: Path) -> Iterator[str]:
    """Run `streamlit run app.py` on a free port over a private copy of `store` (the file and its
    models folder) and yield its base URL once `/_stcore/health` answers; fail with the server's
    log (`workdir/streamlit.log`) if it does not within STARTUP_TIMEOUT_S. Each server gets its own
    copy because a DuckDB file can be open in one process only."""
    store_dir = workdir / "store"
    shutil.copytree(store.parent, store_dir)
    port, closed_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "F1_DB": str(store_dir / store.name),
        "F1_TODAY": TODAY,
        "F1_MODELS": str(store_dir / "models"),
        "F1_REFRESH_HOURS": "24",
        "FASTF1_CACHE": str(workdir / "fastf1-cache"),
        "JOLPICA_URL": f"http://127.0.0.1:{closed_port}/ergast/f1",
        "OPEN_METEO_URL": f"http://127.0.0.1:{closed_port}/v1/forecast",
    }
    for name in ("F1_SNAPSHOT", "F1_WEATHER", "F1_ADMIN_PASSWORD"):
        env.pop(name, None)
    log_path = workdir / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.headless", "true", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false",
               # uncaught exceptions must reach the page, where assert_no_error sees them
               "--client.showErrorDetails", "full"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(base_url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not become healthy on {base_url} "
                            f"(exit code {server.poll()}); its log:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.5)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def app_server(e2e_store: Path, tmp_path_factory) -> Iterator[str]:
    """The server most tests share, for the whole session; yields its base URL."""
    with running_app(e2e_store, tmp_path_factory.mktemp("e2e-server")) as base_url:
        yield base_url


@pytest.fixture
def fresh_app_server(e2e_store: Path, tmp_path_factory) -> Iterator[str]:
    """A server process of the test's own, which no browser has talked to yet: the first request
    a Streamlit process serves is the one its legacy `pages/` mode applies to."""
    with running_app(e2e_store, tmp_path_factory.mktemp("e2e-fresh-server")) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(f"browser tests need Chromium at {CHROMIUM}: apt-get install chromium "
                    "(or deselect them with -m 'not e2e')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser tab at laptop size; on failure a screenshot lands in test-results/."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        out = REPO / "test-results"
        out.mkdir(exist_ok=True)
        tab.screenshot(path=str(out / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# -- helpers the tests share ---------------------------------------------------------------------

def wait_for_app_run(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has finished running the script: the app root reports the script
    state "notRunning" (Streamlit 1.67 sets `data-test-script-state` on `stApp`) and the
    running-man status widget is gone. Checked twice, because a rerun can follow a first run."""
    for _ in range(2):
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)
        page.wait_for_timeout(300)


def open_page(page, base_url: str, path: str = "") -> None:
    """Open the app at `path` ("" is the default page, "data" the Data page) and wait for the run."""
    page.goto(f"{base_url}/{path.lstrip('/')}")
    # Before the websocket is up the app root already reads "notRunning"; every page's title
    # only exists once the first run has started drawing.
    page.locator('[data-testid="stMain"] h1').first.wait_for(state="attached")
    wait_for_app_run(page)


def go_to(page, title: str) -> None:
    """Follow a sidebar link; works whichever page is the default (its URL is then "/")."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    wait_for_app_run(page)


def poll(page, read: Callable[[], T], done: Callable[[T], bool], timeout_s: float = 15) -> T:
    """Read the page every 200 ms until `done(value)` or the timeout, and return the last value
    (the caller asserts on it). Plotly and some elements are drawn after Streamlit reports the run
    finished, so what a test reads right after a run may still be the old drawing."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(200)


def assert_no_error(page) -> None:
    """Fail when the page shows an exception or an error alert."""
    exceptions = page.locator('[data-testid="stException"]')
    errors = page.locator('[data-testid="stAlertContentError"]')
    found = [e.inner_text() for e in exceptions.all()] + [e.inner_text() for e in errors.all()]
    assert not found, "the page shows errors:\n" + "\n---\n".join(found)
