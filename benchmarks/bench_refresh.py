"""How long does refreshing one new race take on top of the real snapshot? (goal: at most 2 s)

Loads ../shared/data/ergast (2026 up to round 4) into a scratch store, serves the Canadian GP
(2026 round 5) from a local Jolpica-compatible server, and times `import_new_races` with the
production client settings (4 requests/s, so the rate limiter's spacing is part of the figure).
Each repeat starts from a fresh copy of the loaded store.

    python benchmarks/bench_refresh.py [--snapshot PATH] [--repeat 3]
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import snapshot_arguments  # puts the repository on the import path

from f1core.ingest.ergast_csv import import_dump
from f1core.ingest.jolpica import JolpicaClient, import_new_races
from f1core.store import Store
from tests.ingest.apiserver import FakeApi, FakeJolpica

GOAL_S = 2.0
TODAY = dt.date(2026, 5, 26)
CANADA_2026 = ["2026_schedule.json", "2026_5_results.json", "2026_5_qualifying.json", "2026_5_sprint.json"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    snapshot_arguments(parser, weather=False)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.snapshot.is_dir():
        print(f"no snapshot at {args.snapshot}; pass --snapshot", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "snapshot.duckdb"
        started = time.perf_counter()
        store = Store(template)
        import_dump(store, args.snapshot)
        store.close()
        print(f"snapshot loaded in {time.perf_counter() - started:.2f} s (not part of the figure)")

        timings = []
        with FakeApi() as api:
            FakeJolpica(api, *CANADA_2026)
            for i in range(args.repeat):
                path = Path(tmp) / f"run{i}.duckdb"
                shutil.copy(template, path)
                store = Store(path)
                client = JolpicaClient(api.base_url + FakeJolpica.PREFIX)  # production defaults
                started = time.perf_counter()
                run = import_new_races(store, client, TODAY)
                timings.append(time.perf_counter() - started)
                last = store.last_race_with_results()
                store.close()
                print(f"run {i + 1}: {timings[-1]:.3f} s, {client.requests_made} requests, "
                      f"added {run.rows_added}, last race with results now {last.label}")

    median = statistics.median(timings)
    verdict = "OK" if median <= GOAL_S else "TOO SLOW"
    print(f"refresh of one new race: median {median:.3f} s, best {min(timings):.3f} s "
          f"(goal <= {GOAL_S:.0f} s: {verdict})")
    return 0 if median <= GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
