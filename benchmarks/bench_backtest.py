"""Walk-forward backtest per season, beside the grid and form baselines, with the stage 1 figures,
the rain validation, the rain what-if and the timing: the figures of the accuracy goals.

    python benchmarks/bench_backtest.py [--db FILE] [--from 2022] [--to SEASON] [--json out.json]

Without --db it builds a store from the snapshot in a temporary folder (about 3 s). The seasons
before `--from` are never predicted; everything the models use was chosen on earlier seasons.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import snapshot_arguments  # puts the repository on the import path

from f1core.engine.backtest import walk_forward
from f1core.engine.ratings import latest_ratings
from f1core.engine.scenario import Scenario
from f1core.engine.service import Engine
from f1core.engine.training import POST, PRE
from f1core.store import Store
from f1core.views.reports import rain_check_line
from f1core.views.reports import reliability as reliability_bins


def season_table(per_race: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (mode, predictor), g in per_race.groupby(["mode", "predictor"]):
        for season, s in list(g.groupby("season")) + [("all", g)]:
            rows.append({"mode": mode, "predictor": predictor, "season": season, "races": len(s),
                         "winner_logloss": s["winner_logloss"].mean(), "winner_top1": s["winner_top1"].mean(),
                         "spearman": s["spearman"].mean()})
    return pd.DataFrame(rows)


def stage1_table(stage1: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for season, s in list(stage1.groupby("season")) + [("all", stage1)]:
        errors = np.concatenate([np.asarray(e, dtype=float) for e in s["laptime_abs_errors"]])
        rows.append({"season": season, "races": len(s), "grid_spearman": s["grid_spearman"].mean(),
                     "pole_hit": s["pole_hit"].mean(), "laptime_median_abs_error_s": float(np.median(errors))})
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    snapshot_arguments(parser)
    parser.add_argument("--db", type=Path, help="an existing store (copied, never written)")
    parser.add_argument("--from", dest="from_season", type=int, default=2022)
    parser.add_argument("--to", dest="to_season", type=int, default=None)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            store = Store(shutil.copy(args.db, Path(tmp) / "f1.duckdb"))
        else:
            from f1core.ingest.ergast_csv import import_dump
            from f1core.ingest.weather_csv import import_weather

            store = Store(Path(tmp) / "f1.duckdb")
            import_dump(store, args.snapshot)
            import_weather(store, args.weather)
        engine = Engine(store, Path(tmp) / "models", today=dt.date(2026, 5, 20))
        frame = engine.frame()
        from f1core.engine.training import stage1_walk_forward

        started = time.perf_counter()
        stage1 = stage1_walk_forward(frame, engine.config)  # computed afresh, not from the store's cache
        stage1_s = time.perf_counter() - started
        result = walk_forward(frame, args.from_season, args.to_season, engine.config, stage1)
        total_s = stage1_s + result.seconds

        table = season_table(result.per_race)
        pd.set_option("display.width", 200)
        for mode in (POST, PRE):
            t = table[table["mode"] == mode].pivot(index="season", columns="predictor",
                                                   values=["winner_logloss", "winner_top1", "spearman"])
            print(f"\n{mode}: winner log loss / winner picked / finishing-order Spearman")
            print(t.round(3).to_string())
        s1 = stage1_table(result.stage1_per_race)
        print("\nqualifying model (stage 1)")
        print(s1.round(3).to_string(index=False))
        rain = {mode: result.rain_validation(mode) for mode in (POST, PRE)}
        print()
        for mode, check in rain.items():
            print(rain_check_line(mode, check))
        reliability = reliability_bins(result.predictions[result.predictions["mode"] == POST], "win", by="season")
        print(f"\nbacktest: stage 1 walk-forward {stage1_s:.0f} s + race models {result.seconds:.0f} s = {total_s:.0f} s")

        # the rain what-if on the next race, with a model trained on everything
        started = time.perf_counter()
        engine.lifecycle.retrain()
        train_s = time.perf_counter() - started
        race = engine.upcoming_races(1)[0]
        dry = engine.predict_race(race.season, race.round, Scenario(rain=0.0)).table.set_index("driver_ref")
        wet = engine.predict_race(race.season, race.round, Scenario(rain=1.0)).table.set_index("driver_ref")
        favourite = dry["p_win"].idxmax()
        change = wet.loc[favourite, "p_win"] / dry.loc[favourite, "p_win"] - 1
        dnf_up = bool((wet["p_dnf"] > dry.loc[wet.index, "p_dnf"]).all())
        print(f"training (first, with the stage 1 history and the recent evaluation) {train_s:.1f} s")
        print(f"rain what-if on {race.label}: favourite {favourite} {dry.loc[favourite, 'p_win']:.1%} -> "
              f"{wet.loc[favourite, 'p_win']:.1%} ({change:+.0%}); every DNF chance higher: {dnf_up}")
        ratings = latest_ratings(frame)
        print("\nratings after the last race with results:")
        print(ratings[["rank", "driver_ref", "constructor_ref", "strength", "car_rating", "driver_rating"]]
              .round(1).to_string(index=False))
        if args.json:
            args.json.write_text(json.dumps({
                "seasons": table.to_dict(orient="records"), "stage1": s1.to_dict(orient="records"),
                "rain_validation": rain, "reliability": reliability.to_dict(orient="records"),
                "seconds": {"stage1_walk_forward": stage1_s, "race_models": result.seconds, "training": train_s},
                "rain_what_if": {"race": race.label, "favourite": favourite, "relative_change": change,
                                 "dnf_all_higher": dnf_up},
            }, indent=2, default=float))
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
