"""Many visitors at once while new races land: `--sessions` browser sessions (20) cycle through the
pages for `--minutes` (3) on one server, whose background refresh meanwhile fetches the 2026
Canadian GP (results, qualifying, sprint) from a local Jolpica-compatible server and runs its
upkeep (retrain, freeze, backtest).

Prints the exceptions and error boxes seen (goal 0), the time from opening a page to its drawn
page per visit (p50/p95, in the browser: the server's time plus the drawing, on the same two
cores), the server's memory before and after, and when the new race landed.

    python benchmarks/bench_load.py [--sessions 20] [--minutes 3] [--db FILE --models DIR]
"""
from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_app import RECORD_RUNS, free_port, prepare, rss_mb, settings_env, stop
from common import REPO, snapshot_arguments  # puts the repository on the import path

from f1core.store import Store
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.ingest.apiserver import FakeApi, FakeJolpica

PATHS = ["/", "/season", "/upcoming", "/what_if", "/past_races", "/accuracy", "/drift", "/models", "/drivers",
         "/compare", "/data"]
TODAY = "2026-05-26"  # the day after the Canadian GP: its results are due


async def visitor(browser, base: str, until: float, seed: int, times: list, problems: list) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    await page.add_init_script(RECORD_RUNS)
    rng = random.Random(seed)
    while time.monotonic() < until:
        path = rng.choice(PATHS)
        started = time.perf_counter()
        try:
            await page.goto(base + path)
            await page.wait_for_function("window.__finished.length > 0", timeout=120_000, polling=50)
            times.append((path, time.perf_counter() - started))
            found = await page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').all_inner_texts()
            problems += [(path, text[:200]) for text in found]
        except Exception as exc:  # a page that never drew counts as a problem, not a crash of the run
            problems.append((path, f"{type(exc).__name__}: {str(exc)[:160]}"))
    await context.close()


async def run(base: str, sessions: int, minutes: float, times: list, problems: list) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        until = time.monotonic() + minutes * 60
        await asyncio.gather(*(visitor(browser, base, until, i, times, problems) for i in range(sessions)))
        await browser.close()


def start_logged_server(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` with its log (and the page times app.py logs) in `log`."""
    port = free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless",
             "true", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
             "--logger.level", "info"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1):
                return server, base
        except OSError:
            time.sleep(0.3)
    stop(server)
    raise RuntimeError(f"the server did not start; its log:\n{log.read_text()[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    snapshot_arguments(parser)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--models", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.db:
            db, models = shutil.copy(args.db, tmp / "f1.duckdb"), tmp / "models"
            shutil.copytree(args.models, models)
        else:
            print("building a store with a model and a backtest first …", flush=True)
            db, models = prepare(tmp, args.snapshot, args.weather)
        api = FakeApi()
        FakeJolpica(api, "seasons.json", "2026_schedule.json", "2026_5_results.json", "2026_5_qualifying.json",
                    "2026_5_sprint.json")
        env = {**settings_env(Path(db), models), "F1_TODAY": TODAY, "JOLPICA_URL": api.base_url + "/ergast/f1"}
        log = tmp / "streamlit.log"
        server, base = start_logged_server(env, log)
        try:
            before = rss_mb(server.pid)
            times: list = []
            problems: list = []
            started = time.monotonic()
            asyncio.run(run(base, args.sessions, args.minutes, times, problems))
            elapsed = time.monotonic() - started
            after = rss_mb(server.pid)
        finally:
            stop(server)
            api.close()
        server_ms = sorted(float(m) for m in re.findall(r"page \S+ ran in (\d+) ms", log.read_text()))
        store = Store(db, read_only=True)
        landed = store.scalar("SELECT count(*) FROM results WHERE season = 2026 AND round = 5")
        store.close()
    seconds = sorted(t for _, t in times)
    print(f"{args.sessions} sessions for {elapsed / 60:.1f} min: {len(times)} pages drawn, "
          f"{len(problems)} exceptions or error boxes (goal 0)")
    for path, text in problems[:10]:
        print(f"  {path}: {text}")
    if seconds:
        print(f"page time in the browser: p50 {statistics.median(seconds):.2f} s, "
              f"p95 {seconds[int(0.95 * (len(seconds) - 1))]:.2f} s, worst {seconds[-1]:.2f} s")
        for path in PATHS:
            mine = sorted(t for p, t in times if p == path)
            if mine:
                print(f"  {path:<12} {len(mine):>4} visits, median {statistics.median(mine):.2f} s, worst {mine[-1]:.2f} s")
    if server_ms:
        print(f"page time on the server (app.py's log, {len(server_ms)} runs): p50 {statistics.median(server_ms):.0f} ms, "
              f"p95 {server_ms[int(0.95 * (len(server_ms) - 1))]:.0f} ms")
    print(f"server memory: {before:.0f} MB before the visitors, {after:.0f} MB after")
    print(f"the 2026 Canadian GP landed during the run: {bool(landed)} ({landed} result rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
