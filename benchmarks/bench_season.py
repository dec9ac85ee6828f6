"""Season projection figures on the real snapshot: the championship of the season in progress
cold (after new data: features, the champion's per-race chances, 10,000 simulated seasons) and
warm (cached by data and champion version), a what-if on the next race, and a replay of a past
round. Goals: 10 s cold, 1 s warm.

    python benchmarks/bench_season.py [--snapshot PATH] [--db FILE --models DIR]
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

from f1core.engine.season import Condition
from f1core.engine.service import Engine
from f1core.ingest.ergast_csv import import_dump
from f1core.ingest.weather_csv import import_weather
from f1core.store import Store


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    snapshot_arguments(parser)
    parser.add_argument("--db", type=Path, help="an existing store (with --models) instead of a fresh one")
    parser.add_argument("--models", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            store, models = Store(args.db), args.models
        else:
            store, models = Store(Path(tmp) / "f1.duckdb"), Path(tmp) / "models"
            import_dump(store, args.snapshot)
            import_weather(store, args.weather)
        engine = Engine(store, models, today=dt.date(2026, 5, 10))
        if engine.champion() is None:
            print("training a champion first …", flush=True)
            engine.lifecycle.retrain()
        season = store.last_race_with_results().season

        cold = []
        for _ in range(args.repeat):
            fresh = Engine(store, models, today=dt.date(2026, 5, 10))  # a new process: nothing in memory
            fresh._cache = type(fresh._cache)()
            seconds, outlook = timed(lambda: fresh.season_outlook(season))
            cold.append(seconds)
        warm = [timed(lambda: fresh.season_outlook(season))[0] for _ in range(args.repeat)]
        nxt = outlook.weekends[0]
        leader = outlook.drivers.iloc[1]["driver_ref"]
        what_if = [timed(lambda i=i: fresh.season_outlook(season, condition=Condition(nxt.round, (leader,) if i % 2
                                                                                      else (leader, outlook.drivers.iloc[0]["driver_ref"]))))[0]
                   for i in range(2)]
        replay, _ = timed(lambda: fresh.season_outlook(season, outlook.after_round - 1))
        print(f"season {season} after round {outlook.after_round}, {outlook.n_sims:,} simulated seasons, "
              f"{len(outlook.weekends)} weekends to go")
        print(f"cold (new engine, features from disk): median {statistics.median(cold):.2f} s, worst {max(cold):.2f} s "
              "(goal 10 s)")
        print(f"warm (cached): median {statistics.median(warm) * 1000:.1f} ms (goal 1 s)")
        print(f"what-if on round {nxt.round} (first call each): {', '.join(f'{s:.2f} s' for s in what_if)}")
        print(f"replay after round {outlook.after_round - 1} (trains stage 1 and the race model): {replay:.1f} s")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
