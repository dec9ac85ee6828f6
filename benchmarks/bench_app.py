"""The dashboard as users meet it, with an existing store and model: cold start to an interactive
Overview (goal 5 s), page switches with a warm cache (goal 1 s), a what-if change (goal 300 ms of
server time), and the server's memory with several sessions open.

Browser times are measured in headless Chromium from the action to the moment Streamlit reports
the script finished, so they include the round trip and are an upper bound of server time; the
what-if server time alone is also measured with Streamlit's AppTest (no browser).

    python benchmarks/bench_app.py [--snapshot PATH] [--sessions 5] [--cold-starts 5]
                                      [--db data/f1.duckdb --models models]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import REPO, snapshot_arguments  # puts the repository on the import path

from f1core.engine.service import Engine
from f1core.ingest.ergast_csv import import_dump
from f1core.ingest.weather_csv import import_weather
from f1core.store import Store
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

# Records every script run the page has seen finish (the app root's state going from "running" to
# "notRunning") with a page drawn (every page has a title), and the path it finished on, from the
# first byte of every document, so no run can end before we look. The first run of a fresh server
# process ends without a title: it only switches Streamlit's legacy page mode off (see
# pages/__init__.py) and is not counted.
RECORD_RUNS = """
window.__finished = [];
new MutationObserver(records => {
  for (const r of records) {
    if (r.attributeName === "data-test-script-state" && r.oldValue === "running"
        && r.target.getAttribute("data-test-script-state") === "notRunning"
        && document.querySelector('[data-testid="stMain"] h1')) window.__finished.push(location.pathname);
  }
}).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                      attributeFilter: ["data-test-script-state"]});
"""


def new_tab(context_or_browser):
    tab = context_or_browser.new_page(viewport={"width": 1400, "height": 900}) \
        if hasattr(context_or_browser, "new_context") else context_or_browser.new_page()
    tab.add_init_script(RECORD_RUNS)
    return tab


def timed(page, action, navigation: bool = False, path: str | None = None) -> float:
    """Seconds from `action` until a script run it triggered has finished, on `path` when given
    (a run of the page being left, or of a fragment, does not count); a navigation starts
    counting afresh in the new document."""
    before = 0 if navigation else page.evaluate("window.__finished.length")
    wanted = f"p => p === {path!r}" if path else "p => true"
    started = time.perf_counter()
    action()
    page.wait_for_function(f"window.__finished.slice({before}).some({wanted})", timeout=120_000, polling=20)
    return time.perf_counter() - started


TODAY = "2026-05-10"
# the sidebar's titles and the paths of their pages (app.py's PAGE_LAYOUT; the default page is "/")
PAGE_PATHS = {"Overview": "/", "Season": "/season", "Upcoming races": "/upcoming", "What-if": "/what_if",
              "Past races": "/past_races", "Accuracy": "/accuracy", "Drift": "/drift", "Models": "/models",
              "Drivers & teams": "/drivers", "Head to head": "/compare", "Data": "/data"}
PAGES = list(PAGE_PATHS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(folder: Path, snapshot: Path, weather: Path) -> tuple[Path, Path]:
    db, models = folder / "f1.duckdb", folder / "models"
    store = Store(db)
    import_dump(store, snapshot)
    import_weather(store, weather)
    engine = Engine(store, models, today=dt.date.fromisoformat(TODAY))
    engine.lifecycle.retrain()
    engine.lifecycle.run_backtest(2022)
    store.close()
    return db, models


def settings_env(db: Path, models: Path) -> dict[str, str]:
    closed = free_port()
    return {**os.environ, "F1_DB": str(db), "F1_MODELS": str(models), "F1_TODAY": TODAY,
            "F1_REFRESH_HOURS": "24", "JOLPICA_URL": f"http://127.0.0.1:{closed}/ergast/f1",
            "OPEN_METEO_URL": f"http://127.0.0.1:{closed}/v1/forecast"}


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str, float, float]:
    """`streamlit run app.py` on a free port; returns the process, its URL, when it was started
    and how many seconds it took to answer its health check."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1):
                return server, base, started, time.perf_counter() - started
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"streamlit exited with code {server.returncode}")
            time.sleep(0.1)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=20)


def whatif_server_ms(env: dict[str, str], changes: int = 12) -> list[float]:
    from streamlit.testing.v1 import AppTest

    os.environ.update(env)
    at = AppTest.from_file(str(REPO / "pages" / "what_if.py"), default_timeout=120).run()
    at.run()  # warm
    times = []
    for i in range(changes):
        at.select_slider(key="whatif_rain").set_value(round((i % 10 + 1) / 10, 1))
        started = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    snapshot_arguments(parser)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--cold-starts", type=int, default=5, help="fresh server processes to time")
    parser.add_argument("--db", type=Path, help="reuse a copy of this store (with a model and a backtest) "
                        "instead of building one; --models must name its models folder")
    parser.add_argument("--models", type=Path)
    args = parser.parse_args()
    if bool(args.db) != bool(args.models):
        parser.error("--db and --models go together")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            db, models = Path(tmp) / "f1.duckdb", Path(tmp) / "models"
            shutil.copyfile(args.db, db)
            if args.db.with_suffix(".duckdb.wal").is_file():
                shutil.copyfile(args.db.with_suffix(".duckdb.wal"), db.with_suffix(".duckdb.wal"))
            shutil.copytree(args.models, models)
            if (args.db.parent / ".feature-cache").is_dir():  # the engine's cache lives beside its store
                shutil.copytree(args.db.parent / ".feature-cache", db.parent / ".feature-cache")
        else:
            print("preparing a store, a model and a backtest (a few minutes)...", flush=True)
            db, models = prepare(Path(tmp), args.snapshot, args.weather)
        env = settings_env(db, models)
        with sync_playwright() as pw:
            # the browser is up before the clock starts: a visitor's browser is already open
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            colds = []
            for _ in range(args.cold_starts):
                server, base, started, healthy = start_server(env)
                try:
                    page = new_tab(browser)
                    timed(page, lambda: page.goto(base), navigation=True)
                    colds.append((time.perf_counter() - started, healthy))
                    page.close()
                finally:
                    stop(server)
            print("cold start to an interactive Overview: median "
                  f"{statistics.median(c for c, _ in colds):.1f} s (goal 5 s; runs "
                  + ", ".join(f"{c:.1f} s (healthy at {h:.1f} s)" for c, h in colds) + ")")

            server, base, _, _ = start_server(env)
            try:
                page = new_tab(browser)
                timed(page, lambda: page.goto(base), navigation=True)
                reload_s = timed(page, lambda: page.reload(), navigation=True)
                print(f"a new visitor on the running server (reload of the Overview): {reload_s:.1f} s")

                def switch(name: str) -> float:
                    return timed(page, lambda: page.get_by_role("link", name=name, exact=True).first.click(),
                                 path=PAGE_PATHS[name])

                for name in PAGES[1:] + PAGES[:1]:  # first visit of each page: fills the caches
                    print(f"  first visit {name}: {switch(name):.2f} s")

                def warm_switch(name: str) -> float:
                    # from another page: a click on the page already open may not run anything
                    switch(PAGES[(PAGES.index(name) + 1) % len(PAGES)])
                    return switch(name)

                warm = {name: statistics.median(warm_switch(name) for _ in range(3)) for name in PAGES}
                for name, seconds in warm.items():
                    print(f"  warm switch to {name}: {seconds:.2f} s")
                print(f"warm page switch: median {statistics.median(warm.values()):.2f} s, "
                      f"worst {max(warm.values()):.2f} s (goal 1 s; until the page's script has run)")

                switch("What-if")
                rain = page.get_by_role("slider", name="Share of the race in rain")
                times = []
                for _ in range(8):
                    rain.focus()
                    times.append(timed(page, lambda: page.keyboard.press("ArrowRight")))
                print(f"what-if change in the browser: median {statistics.median(times) * 1000:.0f} ms "
                      "(round trip, an upper bound of server time)")

                contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(args.sessions)]
                for i, ctx in enumerate(contexts):
                    tab = new_tab(ctx)
                    timed(tab, lambda: tab.goto(base), navigation=True)
                    other = PAGES[1 + i % (len(PAGES) - 1)]  # not the Overview it is on
                    tab.get_by_role("link", name=other, exact=True).first.click()
                    tab.wait_for_url(f"**{PAGE_PATHS[other]}*")
                    tab.wait_for_timeout(3000)  # only the memory is measured: let the page draw
                print(f"server memory with {args.sessions + 1} sessions open: {rss_mb(server.pid):.0f} MB")
                browser.close()
            finally:
                stop(server)
        server_ms = whatif_server_ms(env)
        print(f"what-if change, server time (AppTest): median {statistics.median(server_ms):.0f} ms, "
              f"worst {max(server_ms):.0f} ms (goal 300 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
