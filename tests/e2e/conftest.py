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
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

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
    """The real snapshot with a model already trained (with the app's own set-up), a short backtest
    and the championship replay, so the server's background upkeep has nothing heavy left to do
    while tests run."""
    if not ERGAST_DIR.is_dir():
        pytest.skip(f"browser tests need the real snapshot beside the repository ({ERGAST_DIR} is absent)")
    import datetime as dt

    from f1core.engine.service import Engine
    from f1core.engine.training import TrainingConfig
    from f1core.ingest.ergast_csv import import_dump
    from f1core.ingest.weather_csv import import_weather
    from f1core.store import Store

    root = tmp_path_factory.mktemp("e2e-store")
    path = root / "f1.duckdb"
    store = Store(path)
    import_dump(store, ERGAST_DIR)
    import_weather(store, WEATHER_DIR)
    # with another set-up than the app's, its upkeep would retrain in the middle of the tests
    engine = Engine(store, root / "models", TrainingConfig(), today=dt.date.fromisoformat(TODAY))
    engine.lifecycle.retrain()
    engine.lifecycle.run_backtest(2026)
    engine.lifecycle.run_season_backtest(engine.lifecycle.season_backtest_due())  # the upkeep's, done beforehand
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


class RunWatch:
    """The script runs one tab has seen finish, read from Streamlit's own websocket messages: a
    run has finished when the server sends `script_finished` with FINISHED_SUCCESSFULLY (or
    WITH_COMPILE_ERROR). A run that ends in `st.rerun()` sends FINISHED_EARLY_FOR_RERUN and a
    fragment run FINISHED_FRAGMENT_RUN_SUCCESSFULLY; neither counts, so a rerun that follows a
    run is waited for too.

    The page's `data-test-script-state` cannot tell this: it reads "notRunning" before the run an
    action starts, and when a run's messages arrive in one burst, React applies "running" and
    "notRunning" in a single render, so the attribute never changes at all."""

    FULL_RUN = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}

    def __init__(self, page) -> None:
        self.finished = 0
        self.waited = 0  # finished runs a wait_for_app_run has already returned for
        self.socket = None
        self.log: list[str] = []
        self._start = time.monotonic()
        page.on("websocket", self._on_socket)

    def _on_socket(self, socket) -> None:
        self.socket = socket
        self._note("websocket opened")
        socket.on("framereceived", self._on_frame)

    def _on_frame(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            return
        msg = ForwardMsg.FromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._note("run started")
        elif kind == "script_finished":
            self._note(ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished))
            if msg.script_finished in self.FULL_RUN:
                self.finished += 1

    def _note(self, what: str) -> None:
        self.log.append(f"{time.monotonic() - self._start:7.2f} s  {what}")


_RUN_WATCHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def watch_runs(page) -> RunWatch:
    """The RunWatch of `page`, started on first call (before the page connects, or it misses runs)."""
    if page not in _RUN_WATCHES:
        _RUN_WATCHES[page] = RunWatch(page)
    return _RUN_WATCHES[page]


# Once the last run's messages have arrived: the page idle, checked on every animation frame and
# not before two frames have passed (React renders a burst of messages in a task of its own, ahead
# of the next frame, and until then the page may still read "notRunning" from before the run).
PAGE_SETTLED_JS = """
() => (window.__e2eFramesSeen = (window.__e2eFramesSeen ?? 0) + 1) > 2
      && document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state') === 'notRunning'
      && !document.querySelector('[data-testid="stStatusWidget"]')
"""


@pytest.fixture
def page(browser, request):
    """A fresh browser tab at laptop size, watching its script runs (see wait_for_app_run); on
    failure a screenshot lands in test-results/."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(EXPECT_TIMEOUT_MS)
    watch_runs(tab)
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
    """Wait until the script run the last action started has finished and the page shows it: the
    server has finished a run since the previous call (or since the page was opened; see RunWatch)
    and the app root reads "notRunning" with the running-man status widget gone. Call it once
    after each action that reruns the script; after an action that does not, it times out."""
    watch = _RUN_WATCHES[page]
    deadline = time.monotonic() + timeout_ms / 1000
    while watch.finished <= watch.waited:  # each pass waits for the next websocket event
        left_ms = (deadline - time.monotonic()) * 1000
        if left_ms <= 0:
            raise AssertionError(f"no script run finished within {timeout_ms} ms; the tab saw:\n"
                                 + "\n".join(watch.log))
        try:
            if watch.socket is None or watch.socket.is_closed():
                page.wait_for_event("websocket", timeout=left_ms)
            else:
                watch.socket.wait_for_event("framereceived", timeout=left_ms)
        except PlaywrightError:
            pass  # the deadline or a closed socket: the loop decides
    page.evaluate("() => { window.__e2eFramesSeen = 0; }")
    page.wait_for_function(PAGE_SETTLED_JS, polling="raf", timeout=max(1.0, (deadline - time.monotonic()) * 1000))
    watch.waited = watch.finished


def open_page(page, base_url: str, path: str = "") -> None:
    """Open the app at `path` ("" is the default page, "data" the Data page) and wait for the run."""
    watch_runs(page)  # a tab the test opened itself
    page.goto(f"{base_url}/{path.lstrip('/')}")
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
