"""Model commands of `python -m f1core`: train, predict, backtest, rollback."""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

from f1core.engine.lifecycle import RetrainInProgress
from f1core.engine.predict import PredictionError, RacePrediction
from f1core.engine.registry import RegistryError
from f1core.engine.scenario import CONDITIONS, Scenario, ScenarioError, closest, parse_number, parse_slot
from f1core.engine.service import NoModel
from f1core.engine.training import POST, NotEnoughData
from f1core.runtime import Runtime
from f1core.views.reports import rain_check_line
from f1core.views.terms import METRICS

# What each command catches and prints as one line: every one of them says what and where.
PLAIN_ERRORS = (ScenarioError, PredictionError, RegistryError, NotEnoughData, NoModel, RetrainInProgress)
RACE_COLUMNS = ["winner_top1", "winner_top3", "winner_logloss", "multiclass_brier", "podium_brier", "spearman",
                "position_mae"]


def _progress(message: str, fraction: float | None = None) -> None:
    done = "" if fraction is None else f"[{fraction * 100:5.1f}%] "
    print(f"  {done}{message}", file=sys.stderr, flush=True)


def _fmt(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _num(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


# -- train ----------------------------------------------------------------------------------------

def cmd_train(args: argparse.Namespace, runtime: Runtime) -> int:
    started = time.perf_counter()
    decision = runtime.lifecycle.retrain(_progress)
    bundle = runtime.engine.registry.load(decision.challenger)
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


# -- predict --------------------------------------------------------------------------------------

def read_grid_file(path: Path) -> tuple[tuple[str, int, int], ...]:
    """(driver_ref, slot, line) for every row of a `driver,grid` CSV (a byte-order mark is fine).
    Only the listed drivers move; the others keep their order in the free slots."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not a UTF-8 text file (byte {exc.start}); save it as UTF-8 CSV") from None
    reader = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(reader, [])]
    if "driver" not in header or "grid" not in header:
        raise ScenarioError(f"{path} line 1: needs the columns driver,grid (found {','.join(header) or 'nothing'})")
    at_driver, at_grid = header.index("driver"), header.index("grid")
    rows, seen, taken = [], {}, {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ScenarioError(f"{path} line {line}: {len(row)} values where the header has {len(header)}")
        driver = row[at_driver].strip()
        if not driver:
            raise ScenarioError(f"{path} line {line}: no driver")
        slot = parse_slot(row[at_grid], f"{path} line {line}: grid slot")
        if driver in seen:
            raise ScenarioError(f"{path} line {line}: {driver} is already on line {seen[driver]}")
        if slot in taken:
            raise ScenarioError(f"{path} line {line}: slot {slot} is already given on line {taken[slot]}")
        seen[driver], taken[slot] = line, line
        rows.append((driver, slot, line))
    return tuple(rows)


def _check_grid_rows(path: Path, rows, field: list[str], label: str) -> None:
    for driver, slot, line in rows:
        if driver not in field:
            raise ScenarioError(f"{path} line {line}: {driver!r} is not in the field of {label}"
                                f"{closest(driver, field) or ' (the driver column takes driverRefs like max_verstappen)'}")
        if slot > len(field):
            raise ScenarioError(f"{path} line {line}: slot {slot} is outside 1 to {len(field)} (the field of {label})")


def cmd_predict(args: argparse.Namespace, runtime: Runtime) -> int:
    engine = runtime.engine
    engine.served_model()  # a missing model is said first, before any work
    grid_rows = read_grid_file(args.grid_file) if args.grid_file else ()
    conditions = {name: getattr(args, name) for name in CONDITIONS}
    scenario = Scenario(**conditions, grid_slots=tuple((d, s) for d, s, _ in grid_rows))
    if grid_rows:
        race = engine.predict_race(args.season, args.round)
        _check_grid_rows(args.grid_file, grid_rows, list(race.table["driver_ref"]), race.race.label)
    pred = engine.predict_race(args.season, args.round, scenario)
    t = pred.table
    print(f"{pred.race.label} ({pred.race.date}) — {pred.mode}, model {pred.model_version}")
    print(f"{'pos':>4} {'driver':<22} {'team':<16} {'grid':>4} {'win':>6} {'podium':>7} {'points':>7} {'DNF':>6} {'exp':>5}")
    for i, r in t.iterrows():
        print(f"{i + 1:>4} {r.driver_name[:22]:<22} {str(r.team_name)[:16]:<16} {r.grid:>4.0f} {r.p_win:>6.1%} "
              f"{r.p_podium:>7.1%} {r.p_points:>7.1%} {r.p_dnf:>6.1%} {r.expected_position:>5.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(prediction_json(pred), indent=2))
        print(f"written {args.json}", file=sys.stderr)
    return 0


def prediction_json(pred: RacePrediction) -> dict:
    s = pred.scenario
    return {
        "race": {"season": pred.race.season, "round": pred.race.round, "name": pred.race.name,
                 "date": pred.race.date.isoformat()},
        "mode": pred.mode,
        "model_version": pred.model_version,
        "scenario": {"rain": s.rain, "air_temp": s.air_temp, "track_temp": s.track_temp,
                     "grid_slots": [{"driver": d, "grid": g} for d, g in s.grid_slots],
                     "grid_order": list(s.grid_order) if s.grid_order else None},
        "drivers": [
            {"driver": r.driver_ref, "constructor": r.constructor_ref,
             "grid": int(r.grid) if _num(r.grid) is not None else None,
             "quali_gap_pct": _num(r.quali_gap_pct), "quali_time_s": _num(r.quali_time_s),
             "p_win": _num(r.p_win), "p_podium": _num(r.p_podium), "p_points": _num(r.p_points),
             "p_dnf": _num(r.p_dnf), "expected_position": _num(r.expected_position)}
            for r in pred.table.itertuples(index=False)
        ],
    }


# -- backtest -------------------------------------------------------------------------------------

def cmd_backtest(args: argparse.Namespace, runtime: Runtime) -> int:
    run_id, summary = runtime.lifecycle.run_backtest(args.from_season, args.to_season, _progress)
    print(f"backtest run {run_id}: {summary['races']} races, {summary['seconds']} s, "
          f"retrained every {summary['retrain_every']} races")
    for mode, entry in summary["modes"].items():
        print(f"\n{mode}")
        print(f"  {'predictor':<10}" + "".join(f"{m:>22}" for m in RACE_COLUMNS))
        for name, m in [("model", entry["model"])] + list(entry["baselines"].items()):
            print(f"  {name:<10}" + "".join(
                f"{_fmt(m[k]):>8} [{_fmt(m[k + '_ci'][0])},{_fmt(m[k + '_ci'][1])}]".rjust(22) for k in RACE_COLUMNS))
    s1 = summary["stage1"]
    print(f"\nqualifying: grid Spearman {_fmt(s1['grid_spearman'])}, pole hit {_fmt(s1['pole_hit'])}, "
          f"median lap-time error {_fmt(s1['laptime_median_abs_error_s'])} s")
    for mode, check in summary.get("rain", {}).items():
        print(rain_check_line(mode, check))
    if args.json:
        predictions = runtime.engine.records.backtest_predictions(run_id)
        Path(args.json).write_text(json.dumps(backtest_json(summary, predictions), indent=2))
        print(f"written {args.json}", file=sys.stderr)
    return 0


def backtest_json(summary: dict, predictions=None) -> dict:
    """The documented shape: races, seconds, model and baselines (post-qualifying), stage1, every
    mode in full under `modes`, the rain check per mode under `rain`, the evaluation code's hash
    under `code`, and with `predictions` (the stored run's rows) `per_race`: the model's chances
    and what happened, race by race and mode, so anyone can recount every metric."""
    post = summary["modes"].get(POST) or next(iter(summary["modes"].values()))
    out = {
        "races": summary["races"], "seconds": summary["seconds"], "retrain_every": summary["retrain_every"],
        "from_season": summary.get("from_season"), "to_season": summary.get("to_season"),
        "model": post["model"], "baselines": post["baselines"], "stage1": summary["stage1"],
        "modes": summary["modes"], "rain": summary.get("rain"), "code": summary.get("code"),
    }
    if predictions is not None:
        model = predictions[predictions["predictor"] == "model"].sort_values(["season", "round", "mode", "driver_ref"])
        out["per_race"] = [
            {"season": int(season), "round": int(rnd), "mode": mode,
             "drivers": [{"driver": r.driver_ref, "grid": _int(r.grid), "p_win": _num(r.p_win),
                          "p_podium": _num(r.p_podium), "expected_position": _num(r.expected_position),
                          "pred_grid": _int(r.pred_grid), "pred_quali_time_s": _num(r.pred_quali_time_s),
                          "finish": _int(r.finish), "quali_time_s": _num(r.quali_time_s)}
                         for r in g.itertuples(index=False)]}
            for (season, rnd, mode), g in model.groupby(["season", "round", "mode"], sort=True)]
    return out


def _int(value) -> int | None:
    return None if _num(value) is None else int(value)


# -- the season -----------------------------------------------------------------------------------

def cmd_season(args: argparse.Namespace, runtime: Runtime) -> int:
    engine = runtime.engine
    if args.after_round is None:
        engine.served_model()  # the season in progress is projected with the champion
    try:
        outlook = engine.season_outlook(args.season, args.after_round)
    except ValueError as exc:
        raise PredictionError(str(exc)) from None
    names = dict(runtime.store.read("SELECT driver_ref, driver_name FROM driver_labels").itertuples(index=False))
    print(f"{args.season} championship after round {outlook.after_round} — {outlook.n_sims:,} simulated seasons, "
          f"model {outlook.model_version}")
    print(f"{'pos':>4} {'driver':<24} {'points':>7} {'title':>7} {'expected':>9} {'P10–P90':>12}")
    for i, r in outlook.drivers.head(args.top).iterrows():
        print(f"{i + 1:>4} {names.get(r.driver_ref, r.driver_ref)[:24]:<24} {r.points_now:>7g} {r.p_title:>7.1%} "
              f"{r.points_expected:>9.0f} {f'{r.points_p10:.0f}–{r.points_p90:.0f}':>12}")
    print(f"\n{'constructor':<24} {'points':>7} {'title':>7} {'expected':>9} {'P10–P90':>12}")
    for r in outlook.constructors.itertuples(index=False):
        print(f"     {r.constructor_ref[:24]:<24} {r.points_now:>7g} {r.p_title:>7.1%} {r.points_expected:>9.0f} "
              f"{f'{r.points_p10:.0f}–{r.points_p90:.0f}':>12}")
    from f1core.engine.season import clinch_words

    if (words := clinch_words(outlook, names)) is not None:
        print(f"\n{words}")
    if args.json:
        Path(args.json).write_text(json.dumps(season_json(outlook), indent=2))
        print(f"written {args.json}", file=sys.stderr)
    return 0


def season_json(outlook) -> dict:
    def rows(table, key, name):
        return [{name: r[key], "points_now": float(r["points_now"]), "p_title": float(r["p_title"]),
                 "points_expected": float(r["points_expected"]), "points_p10": float(r["points_p10"]),
                 "points_p90": float(r["points_p90"])} for _, r in table.iterrows()]

    return {
        "season": outlook.season, "after_round": outlook.after_round, "model_version": outlook.model_version,
        "simulations": outlook.n_sims,
        "drivers": rows(outlook.drivers, "driver_ref", "driver"),
        "constructors": rows(outlook.constructors, "constructor_ref", "constructor"),
        "remaining_races": [{"round": int(r.round), "name": r.name, "date": str(r.date)[:10], "sprint": bool(r.sprint),
                             "favourite": r.favourite, "p_win": float(r.p_win)}
                            for r in outlook.remaining.itertuples(index=False)],
    }


def cmd_season_backtest(args: argparse.Namespace, runtime: Runtime) -> int:
    import pandas as pd

    from f1core.engine import season_backtest as sb

    started = time.perf_counter()
    run_id, per = runtime.engine.lifecycle.run_season_backtest(range(args.from_season, args.to_season + 1), _progress)
    seconds = time.perf_counter() - started
    summary = pd.concat([sb.summarise(per), sb.summarise(per, sb.stage_groups(per))])
    print(f"season backtest run {run_id}: {len(per)} checkpoints in {seconds:.0f} s")
    for group, g in summary.groupby("group", sort=False):
        print(f"\n{group} ({int(g['checkpoints'].iloc[0])} checkpoints)")
        for metric, m in g.groupby("metric", sort=False):
            print(f"  {metric:<18}" + "".join(f"  {r.predictor}: {_fmt(r.value)} [{_fmt(r.lo)},{_fmt(r.hi)}]"
                                             for r in m.itertuples()))
    return 0


def cmd_rollback(args: argparse.Namespace, runtime: Runtime) -> int:
    version = runtime.lifecycle.rollback(args.version)
    print(f"champion is now {version}")
    return 0


# -- the parsers ----------------------------------------------------------------------------------

def _condition(name: str):
    def parse(raw: str) -> float:
        try:
            return parse_number(name, raw)
        except ScenarioError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = name  # argparse names the type in its messages
    return parse


def add_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    train = sub.add_parser("train", parents=[common], help="train both stages, evaluate and register the model",
                           description="Train a challenger on every race with results, score it walk-forward on "
                                       "the last 12 races beside the grid and form baselines, and promote it when "
                                       "it is at least as accurate as the champion (the rule is printed). "
                                       "About half a minute.")
    train.set_defaults(func=cmd_train)

    predict = sub.add_parser("predict", parents=[common], help="predict one race, optionally under a what-if",
                             description="Print the field with win, podium, points and DNF chances and the "
                                         "expected position, from the champion model.")
    predict.add_argument("season", type=int)
    predict.add_argument("round", type=int)
    predict.add_argument("--grid-file", type=Path,
                         help="CSV with the columns driver,grid (driverRef, slot); only the listed drivers move, "
                              "the others keep their order in the free slots")
    for name, flag in (("rain", "--rain"), ("air_temp", "--air-temp"), ("track_temp", "--track-temp")):
        c = CONDITIONS[name]
        predict.add_argument(flag, dest=name, type=_condition(name), metavar=name.upper(),
                             help=f"{c.words}, {c.lo:g} to {c.hi:g}{c.unit}")
    predict.add_argument("--json", help="also write the prediction to this JSON file")
    predict.set_defaults(func=cmd_predict)

    backtest = sub.add_parser(
        "backtest", parents=[common], help="walk-forward backtest with baselines, stored for the dashboard",
        description="Predict every race from --from on with models trained only on races before it (retrained "
                    "every 3 races), in both modes, beside the grid and form baselines scored the same way; print "
                    "every metric with its 90%% bootstrap interval and store the run for the Accuracy and Past "
                    "races pages. Takes about 1 to 3 minutes for four seasons (the first run in a store also "
                    "computes the qualifying model's walk-forward history).",
        epilog="Metrics: " + "; ".join(f"{m} = {METRICS[m].label.lower()}" for m in RACE_COLUMNS))
    backtest.add_argument("--from", dest="from_season", type=int, default=2022,
                          help="first season predicted (default 2022: the parameters were chosen on earlier seasons)")
    backtest.add_argument("--to", dest="to_season", type=int, default=None,
                          help="last season predicted (default: the last season with results)")
    backtest.add_argument("--json", help="also write the summary to this JSON file")
    backtest.set_defaults(func=cmd_backtest)

    season = sub.add_parser(
        "season", parents=[common], help="the championship as odds, from simulated rest-of-seasons",
        description="Simulate the rest of a season 10,000 times from the race model's per-race chances (sprints "
                    "included, the season's own points) and print each driver's and team's title chance and "
                    "final points with a P10-P90 band. With --after-round, replay the season as of that round "
                    "with models trained only on the races before the next one.")
    season.add_argument("season", type=int)
    season.add_argument("--after-round", type=int, help="replay as of right after this round (default: the latest)")
    season.add_argument("--top", type=int, default=20, help="drivers to print (default 20)")
    season.add_argument("--json", help="also write the projection to this JSON file")
    season.set_defaults(func=cmd_season)

    season_bt = sub.add_parser(
        "season-backtest", parents=[common], help="replay past seasons at checkpoints and score the title odds",
        description="Replay every complete season at checkpoints (before the first race, after rounds 6 and 12 and "
                    "three rounds before the end), each with models trained only on earlier races, and score the "
                    "title odds against the final standings beside the baseline 'each driver's share of the points "
                    "so far' (before the first race: of last season's points). Stored "
                    "for the Accuracy page. About 2 seconds a checkpoint.")
    season_bt.add_argument("--from", dest="from_season", type=int, default=2010, help="first season (default 2010)")
    season_bt.add_argument("--to", dest="to_season", type=int, default=2025, help="last season (default 2025)")
    season_bt.set_defaults(func=cmd_season_backtest)

    rollback = sub.add_parser("rollback", parents=[common], help="make an earlier model version champion again")
    rollback.add_argument("version", nargs="?", help="the version (default: the previous champion)")
    rollback.set_defaults(func=cmd_rollback)
