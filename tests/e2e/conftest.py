"""Browser tests in the style of Streamlit's own e2e_playwright: one real `streamlit run app.py`
per test session (and one more for the test of a fresh server's first request) over a store
built from the real snapshot, driven by headless Chromium.
Assertions are Playwright `expect()` calls, which retry until they hold or their timeout
(EXPECT_TIMEOUT_MS) runs out, because Streamlit and Plotly keep drawing after an action returns.

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

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.conftest import ERGAST_DIR, REPO, WEATHER_DIR

CHROMIUM = Path(os.environ.get("F1_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STARTUP_TIMEOUT_S = 60
EXPECT_TIMEOUT_MS = 30_000  # the deadline of every expect() in these tests
APP_RUN_TIMEOUT_MS = 60_000  # a script run (the first run of a page fills the caches)
TODAY = "2026-05-10"

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


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


# Counts the script runs the page has seen finish. Streamlit 1.67 shows the script state in
# `data-test-script-state` on the app root; a run has finished when it turns "notRunning" from a
# running state. The root reads "initial" or "notRunning" before the first run has even started,
# and after a widget change it stays "notRunning" until the server starts the rerun (debounced
# widgets send theirs later still), so the state alone cannot say whether *the* run is over.
RUN_WATCH_JS = """
(() => {
  const runs = window.__e2eRuns = {finished: 0, waited: 0, log: []};
  new MutationObserver(records => {
    for (const record of records) {
      if (record.target.getAttribute('data-testid') !== 'stApp') continue;
      const state = record.target.getAttribute('data-test-script-state');
      runs.log.push(`${Math.round(performance.now())} ms ${record.oldValue} -> ${state}`);
      if (state === 'notRunning' && record.oldValue !== 'notRunning' && record.oldValue !== 'initial')
        runs.finished += 1;
    }
  }).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                        attributeFilter: ['data-test-script-state']});
})();
"""

# True once a run has finished since the last wait_for_app_run and the page is idle.
APP_RUN_DONE_JS = """
() => {
  const runs = window.__e2eRuns;
  return runs.finished > runs.waited
    && document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stStatusWidget"]');
}
"""


@pytest.fixture
def page(browser, request):
    """A fresh browser tab at laptop size; on failure a screenshot lands in test-results/. Every
    tab of its context counts the script runs it sees (see wait_for_app_run)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(RUN_WATCH_JS)
    tab = context.new_page()
    tab.set_default_timeout(EXPECT_TIMEOUT_MS)
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

def wait_for_app_run(page, timeout_ms: int = APP_RUN_TIMEOUT_MS) -> None:
    """Wait until the script run the last action started has finished: a run has finished since
    the previous call (or since the page loaded), the app root reads "notRunning" and the
    running-man status widget is gone. Call it once after each action that reruns the script;
    after an action that does not, it times out. A run that ends in `st.rerun()` counts as
    finished and the rerun starts a moment later, so where one can follow, first wait for
    something only the last run draws (as open_page does)."""
    try:
        page.wait_for_function(APP_RUN_DONE_JS, timeout=timeout_ms)
    except PlaywrightError as exc:
        log = page.evaluate("() => window.__e2eRuns.log.join('\\n')")
        raise AssertionError(f"no script run finished within {timeout_ms} ms; script states seen:\n{log}") from exc
    page.evaluate("() => { window.__e2eRuns.waited = window.__e2eRuns.finished; }")


def open_page(page, base_url: str, path: str = "") -> None:
    """Open the app at `path` ("" is the default page, "data" the Data page) and wait for the run."""
    page.goto(f"{base_url}/{path.lstrip('/')}")
    # The first request of a server process runs twice (see pages/__init__.py): the first run
    # draws nothing and reruns. Every page's title exists only once the run that stays has begun.
    expect(page.locator('[data-testid="stMain"] h1').first).to_be_attached(timeout=APP_RUN_TIMEOUT_MS)
    wait_for_app_run(page)


def go_to(page, title: str) -> None:
    """Follow a sidebar link; works whichever page is the default (its URL is then "/")."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    wait_for_app_run(page)


def legacy_page_names() -> list[str]:
    """The sidebar entries of Streamlit's legacy listing of the `pages/` folder, which the router
    replaces: the main script and every file of the folder (helper modules too) by its file name,
    without leading underscores and with spaces for the others, as Streamlit shows them."""
    files = ["app"] + [path.stem for path in sorted((REPO / "pages").glob("*.py")) if path.name != "__init__.py"]
    return [stem.lstrip("_").replace("_", " ") for stem in files]


def assert_no_error(page) -> None:
    """Fail when the page shows an exception or an error alert."""
    exceptions = page.locator('[data-testid="stException"]')
    errors = page.locator('[data-testid="stAlertContentError"]')
    found = [e.inner_text() for e in exceptions.all()] + [e.inner_text() for e in errors.all()]
    assert not found, "the page shows errors:\n" + "\n---\n".join(found)
