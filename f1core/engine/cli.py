"""Model commands of `python -m f1core`: train, predict, backtest, rollback."""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

from f1core.config import Settings
from f1core.engine.predict import PredictionError
from f1core.engine.registry import RegistryError
from f1core.engine.scenario import Scenario, ScenarioError
from f1core.engine.service import Engine, NoData, RetrainInProgress
from f1core.engine.training import TrainingConfig
from f1core.store import Store


def _engine(settings: Settings) -> Engine:
    return Engine(Store(settings.db_path), settings.models_dir, TrainingConfig.starting(settings.train_from),
                  today=settings.today)


def _progress(message: str, fraction: float) -> None:
    print(f"  [{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)


def _fmt(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    started = time.perf_counter()
    decision = engine.retrain(_progress)
    bundle = engine.registry.load(decision.challenger)
    print(f"model {bundle.version} trained in {time.perf_counter() - started:.1f} s "
          f"on {bundle.training_window['races']} races ({bundle.training_window['first_season']} to "
          f"{bundle.training_window['last_race_label']})")
    print(decision.summary)
    keys = ("winner_top1", "winner_logloss", "podium_brier", "spearman", "position_mae")
    m = decision.challenger_metrics
    print(f"walk-forward on the last {m['races']} races (after qualifying):")
    for name, metrics in [("model", m)] + sorted(bundle.metrics.get("recent_baselines", {}).items()):
        print(f"  {name:<6} " + ", ".join(f"{k} {_fmt(metrics[k])}" for k in keys))
    return 0


def _read_grid_file(path: Path) -> tuple[str, ...]:
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"driver", "grid"} <= set(reader.fieldnames):
                raise ScenarioError(f"{path}: needs the columns driver,grid (found {reader.fieldnames})")
            rows = []
            for line, row in enumerate(reader, start=2):
                try:
                    rows.append((int(row["grid"]), row["driver"].strip()))
                except (TypeError, ValueError):
                    raise ScenarioError(f"{path} line {line}: grid {row['grid']!r} is not a whole number") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc})") from exc
    slots = [s for s, _ in rows]
    if len(set(slots)) != len(slots):
        raise ScenarioError(f"{path}: two drivers share a grid slot")
    return tuple(d for _, d in sorted(rows))


def cmd_predict(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    scenario = Scenario(
        rain=args.rain, air_temp=args.air_temp, track_temp=args.track_temp,
        grid_order=_read_grid_file(args.grid_file) if args.grid_file else None,
    )
    pred = engine.predict_race(args.season, args.round, scenario)
    t = pred.table
    print(f"{pred.race.label} ({pred.race.date}) — {pred.mode}, model {pred.model_version}")
    print(f"{'pos':>4} {'driver':<22} {'team':<16} {'grid':>4} {'win':>6} {'podium':>7} {'points':>7} {'DNF':>6} {'exp':>5}")
    for i, r in t.iterrows():
        print(f"{i + 1:>4} {r.driver_name[:22]:<22} {str(r.team_name)[:16]:<16} {r.grid:>4.0f} {r.p_win:>6.1%} "
              f"{r.p_podium:>7.1%} {r.p_points:>7.1%} {r.p_dnf:>6.1%} {r.expected_position:>5.1f}")
    if args.json:
        payload = prediction_json(pred)
        Path(args.json).write_text(json.dumps(payload, indent=2))
        print(f"written {args.json}", file=sys.stderr)
    return 0


def prediction_json(pred) -> dict:
    def num(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    return {
        "race": {"season": pred.race.season, "round": pred.race.round, "name": pred.race.name,
                 "date": pred.race.date.isoformat()},
        "mode": pred.mode,
        "model_version": pred.model_version,
        "scenario": pred.scenario.to_query(),
        "drivers": [
            {"driver": r.driver_ref, "constructor": r.constructor_ref, "grid": int(r.grid) if num(r.grid) else None,
             "quali_gap_pct": num(r.quali_gap_pct), "quali_time_s": num(r.quali_time_s),
             "p_win": num(r.p_win), "p_podium": num(r.p_podium), "p_points": num(r.p_points), "p_dnf": num(r.p_dnf),
             "expected_position": num(r.expected_position)}
            for r in pred.table.itertuples(index=False)
        ],
    }


def cmd_backtest(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    run_id, summary = engine.run_backtest(args.from_season, args.to_season, _progress)
    print(f"backtest run {run_id}: {summary['races']} races, {summary['seconds']} s, "
          f"retrained every {summary['retrain_every']} races")
    metrics = ["winner_top1", "winner_top3", "winner_logloss", "multiclass_brier", "podium_brier", "spearman",
               "position_mae"]
    for mode, entry in summary["modes"].items():
        print(f"\n{mode}")
        print(f"  {'predictor':<10}" + "".join(f"{m:>22}" for m in metrics))
        for name, m in [("model", entry["model"])] + list(entry["baselines"].items()):
            print(f"  {name:<10}" + "".join(
                f"{_fmt(m[k]):>8} [{_fmt(m[k + '_ci'][0])},{_fmt(m[k + '_ci'][1])}]".rjust(22) for k in metrics))
    s1 = summary["stage1"]
    print(f"\nqualifying: grid Spearman {_fmt(s1['grid_spearman'])}, pole hit {_fmt(s1['pole_hit'])}, "
          f"median lap-time error {_fmt(s1['laptime_median_abs_error_s'])} s")
    if args.json:
        Path(args.json).write_text(json.dumps(backtest_json(summary), indent=2))
        print(f"written {args.json}", file=sys.stderr)
    return 0


def backtest_json(summary: dict) -> dict:
    """The documented shape: races, seconds, model and baselines (post-qualifying), stage1, and
    every mode in full under `modes`."""
    post = summary["modes"].get("post-qualifying") or next(iter(summary["modes"].values()))
    return {
        "races": summary["races"], "seconds": summary["seconds"], "retrain_every": summary["retrain_every"],
        "from_season": summary.get("from_season"), "to_season": summary.get("to_season"),
        "model": post["model"], "baselines": post["baselines"], "stage1": summary["stage1"],
        "modes": summary["modes"],
    }


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    version = _engine(settings).rollback(args.version)
    print(f"champion is now {version}")
    return 0


def _guard(fn):
    def run(args, settings):
        try:
            return fn(args, settings)
        except (ScenarioError, PredictionError, RegistryError, NoData, RetrainInProgress) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return run


def add_commands(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train both stages, evaluate and register the model")
    train.set_defaults(func=_guard(cmd_train))

    predict = sub.add_parser("predict", help="predict one race, optionally under a what-if scenario")
    predict.add_argument("season", type=int)
    predict.add_argument("round", type=int)
    predict.add_argument("--grid-file", type=Path, help="CSV with columns driver,grid (driverRef, slot)")
    predict.add_argument("--rain", type=float, help="share of the race in rain, 0 (dry) to 1 (wet)")
    predict.add_argument("--air-temp", type=float, help="air temperature, °C")
    predict.add_argument("--track-temp", type=float, help="track temperature, °C")
    predict.add_argument("--json", help="also write the prediction to this JSON file")
    predict.set_defaults(func=_guard(cmd_predict))

    backtest = sub.add_parser("backtest", help="walk-forward backtest with baselines, stored for the dashboard")
    backtest.add_argument("--from", dest="from_season", type=int, default=2022)
    backtest.add_argument("--to", dest="to_season", type=int, default=None)
    backtest.add_argument("--json", help="also write the summary to this JSON file")
    backtest.set_defaults(func=_guard(cmd_backtest))

    rollback = sub.add_parser("rollback", help="make an earlier model version champion again")
    rollback.add_argument("version", nargs="?", help="the version (default: the previous champion)")
    rollback.set_defaults(func=_guard(cmd_rollback))
