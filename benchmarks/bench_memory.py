"""Does the server's memory level off as new data arrives? (It used to grow with every data
version and stay: 388 -> 537 MB over two.)

Starts `streamlit run app.py` over a copy of a store with a model, opens every page in headless
Chromium, then `--versions` times: lands a new data version the way a deployment does (the
server's own refresh, started with the Data page's "Refresh now", fetches fresh forecasts from a
local Open-Meteo-compatible server: a small ingestion run that adds rows), opens every page again
so each cache holds the new version's data, and reads the server's resident memory (RSS).

    python benchmarks/bench_memory.py [--versions 4] [--retrain] [--snapshot PATH]
                                      [--db data/f1.duckdb --models models]

Prints one line per data version; the figures are the point, there is no pass or fail. A store is
built first unless --db/--models name one (a minute or two: a model with the lighter test set-up
and a backtest of the current season, so the server's upkeep has nothing heavy left to do).
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_app import PAGE_PATHS as PAGES  # every page of the sidebar, by title, with its path
from bench_app import new_tab, rss_mb, settings_env, start_server, stop, timed
from common import snapshot_arguments  # puts the repository on the import path

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.ingest.apiserver import FakeApi, FakeOpenMeteo

TODAY = "2026-05-10"  # the next race (2026 R5, 24 May) is inside Open-Meteo's 16-day window
REFRESH_DEADLINE_S = 600  # a refresh with its upkeep (new features, predictions frozen)


def prepare(folder: Path, snapshot: Path, weather: Path) -> tuple[Path, Path]:
    from f1core.engine.service import Engine
    from f1core.ingest.ergast_csv import import_dump
    from f1core.ingest.weather_csv import import_weather
    from f1core.store import Store
    from tests.engine.conftest import FAST

    db, models = folder / "f1.duckdb", folder / "models"
    store = Store(db)
    import_dump(store, snapshot)
    import_weather(store, weather)
    engine = Engine(store, models, FAST, today=dt.date.fromisoformat(TODAY))
    engine.lifecycle.retrain()
    engine.lifecycle.run_backtest(2026)
    store.close()
    return db, models


def visit_every_page(page) -> float:
    """Open each page once in this session (a sidebar click, as a visitor would); seconds taken."""
    started = time.perf_counter()
    for name, path in list(PAGES.items())[1:] + list(PAGES.items())[:1]:
        timed(page, lambda: page.get_by_role("link", name=name, exact=True).first.click(), path=path)
    return time.perf_counter() - started


def land_a_data_version(page, api: FakeApi) -> float:
    """Press "Refresh now" on the Data page and wait until that refresh, and the upkeep after it,
    have finished; seconds taken. Fails after REFRESH_DEADLINE_S."""
    timed(page, lambda: page.get_by_role("link", name="Data", exact=True).first.click(), path="/data")
    asked = len(api.seen)
    started = time.perf_counter()
    page.get_by_role("button", name="Refresh now").click()
    deadline = started + REFRESH_DEADLINE_S
    while time.perf_counter() < deadline:
        page.wait_for_timeout(500)
        text = page.locator('[data-testid="stMain"]').inner_text()
        if len(api.seen) > asked and "Refreshing now" not in text and "last refresh finished just now" in text:
            return time.perf_counter() - started
    raise SystemExit(f"the refresh did not finish within {REFRESH_DEADLINE_S} s")


def retrain(page) -> float:
    """Press Retrain on the Models page (what new results make the upkeep do) and wait for the
    decision; seconds taken."""
    timed(page, lambda: page.get_by_role("link", name="Models", exact=True).first.click(), path="/models")
    timed(page, lambda: page.get_by_role("tab", name="Retrain & roll back").click())
    started = time.perf_counter()
    page.get_by_role("button", name="Retrain", exact=True).click()
    page.get_by_text("Retrain finished").wait_for(timeout=REFRESH_DEADLINE_S * 1000)
    seconds = time.perf_counter() - started
    # leave for the Overview: the page tour that follows passes the Models page (a click on the
    # link of the page already open runs nothing, and would never finish)
    timed(page, lambda: page.get_by_role("link", name="Overview", exact=True).first.click(), path="/")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    snapshot_arguments(parser)
    parser.add_argument("--versions", type=int, default=4, help="new data versions to land")
    parser.add_argument("--retrain", action="store_true",
                        help="also retrain after each new version, as new race results make the upkeep do")
    parser.add_argument("--db", type=Path, help="reuse a copy of this store (with a model and a backtest)")
    parser.add_argument("--models", type=Path, help="the models folder of --db")
    args = parser.parse_args()
    if bool(args.db) != bool(args.models):
        parser.error("--db and --models go together")
    from playwright.sync_api import sync_playwright

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp, FakeApi() as api:
        if args.db:
            db, models = Path(tmp) / "f1.duckdb", Path(tmp) / "models"
            shutil.copyfile(args.db, db)
            shutil.copytree(args.models, models)
        else:
            print("preparing a store and a model (a minute or two)...", flush=True)
            db, models = prepare(Path(tmp), args.snapshot, args.weather)
        env = {**settings_env(db, models), "OPEN_METEO_URL": FakeOpenMeteo(api).base_url}
        server, base, _, _ = start_server(env)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = new_tab(browser)
                timed(page, lambda: page.goto(base), navigation=True)
                seconds = visit_every_page(page)
                first = rss_mb(server.pid)
                print(f"commit {commit}: server RSS with every page opened once: {first:.0f} MB "
                      f"({seconds:.0f} s for the pages)", flush=True)
                figures = [first]
                for i in range(1, args.versions + 1):
                    refresh_s = land_a_data_version(page, api)
                    train_s = retrain(page) if args.retrain else 0.0
                    seconds = visit_every_page(page)
                    page.wait_for_timeout(2000)  # let the last page finish drawing
                    figures.append(rss_mb(server.pid))
                    print(f"  data version +{i}: {figures[-1]:.0f} MB ({figures[-1] - figures[-2]:+.0f} MB; "
                          f"refresh {refresh_s:.0f} s, " + (f"retrain {train_s:.0f} s, " if args.retrain else "")
                          + f"pages {seconds:.0f} s)", flush=True)
                browser.close()
        finally:
            stop(server)
    growth = figures[-1] - figures[1] if len(figures) > 2 else float("nan")
    print(f"RSS: {figures[0]:.0f} MB at start, {figures[1]:.0f} MB after the first new version, "
          f"{figures[-1]:.0f} MB after {args.versions} ({growth:+.0f} MB over the last {args.versions - 1}); "
          f"peak {max(figures):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
