"""Engine figures on the real snapshot: training time, warm what-if latency, page-data latency
and peak memory. Goals: training at most 30 s, one warm what-if call at most 50 ms.

    python benchmarks/bench_engine.py [--snapshot PATH] [--calls 60]
"""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import snapshot_arguments  # puts the repository on the import path

from f1core.engine.scenario import Scenario
from f1core.engine.service import Engine
from f1core.ingest.ergast_csv import import_dump
from f1core.ingest.weather_csv import import_weather
from f1core.store import Store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    snapshot_arguments(parser)
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "f1.duckdb")
        import_dump(store, args.snapshot)
        import_weather(store, args.weather)
        engine = Engine(store, Path(tmp) / "models", today=dt.date(2026, 5, 10))

        started = time.perf_counter()
        engine.frame()
        features_s = time.perf_counter() - started
        started = time.perf_counter()
        decision = engine.lifecycle.retrain()
        first_train_s = time.perf_counter() - started
        started = time.perf_counter()
        engine.lifecycle.train_bundle()
        retrain_s = time.perf_counter() - started
        print(f"features {features_s:.1f} s; first training (with the stage 1 history and the recent "
              f"evaluation) {first_train_s:.1f} s; training both stages again {retrain_s:.1f} s (goal 30 s)")
        print(f"  {decision.summary}")

        race = engine.upcoming_races(1)[0]
        engine.predict_race(race.season, race.round)  # warm
        field = list(engine.predict_race(race.season, race.round).table["driver_ref"])
        latencies = []
        for i in range(args.calls):
            scenario = Scenario(rain=(i % 11) / 10, air_temp=15 + i % 20).with_slot(field[i % len(field)], 1 + i % 20)
            t = time.perf_counter()
            engine.predict_race(race.season, race.round, scenario)
            latencies.append((time.perf_counter() - t) * 1000)
        latencies.sort()
        print(f"what-if on {race.label}: median {statistics.median(latencies):.1f} ms, "
              f"p90 {latencies[int(0.9 * len(latencies))]:.1f} ms (goal 50 ms) over {args.calls} calls")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
