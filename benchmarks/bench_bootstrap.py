"""Full bootstrap of the real snapshot (Ergast dump + weather) into an empty DuckDB file.
Goal: at most 5 s on a 2-core machine. Prints seconds per run and the peak memory of this process.

    python benchmarks/bench_bootstrap.py [--snapshot PATH] [--weather PATH] [--repeat 3]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import snapshot_arguments  # puts the repository on the import path

from f1core.ingest.ergast_csv import import_dump
from f1core.ingest.weather_csv import import_weather
from f1core.store import Store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    snapshot_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            store = Store(Path(tmp) / "f1.duckdb")
            rows = import_dump(store, args.snapshot).total_added + import_weather(store, args.weather).total_added
            store.close()
            times.append(time.perf_counter() - started)
            print(f"run {i + 1}: {times[-1]:.2f} s, {rows:,} rows")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bootstrap median {statistics.median(times):.2f} s (goal 5 s), peak memory {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
