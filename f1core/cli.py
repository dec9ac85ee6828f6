"""Command line: `python -m f1core COMMAND`. `--db` (or `F1_DB`) chooses the store of every
command and, like `-v`, may come before or after the command's name.

Each command builds the same runtime as the app (`f1core.runtime`), so `ingest` ends with the
same upkeep as the app's background refresh: retrain when due, freeze the predictions shown,
keep the backtest current (`--no-upkeep` leaves it out).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

from f1core import clock
from f1core.config import Settings, SettingsError, load_settings
from f1core.ingest.runs import IngestError
from f1core.store import Store, StoreError

# Exit codes of `ingest`, apart from 0 (every source delivered) and 2 (bad input or settings).
EXIT_NOTHING_FETCHED = 1  # the race data could not be fetched: the store is as it was
EXIT_OPTIONAL_FAILED = 3  # the race data landed, but an optional source (weather) failed
REQUIRED_STEPS = {"snapshot", "jolpica", "jolpica-bootstrap"}


def _say(message: str, fraction: float | None = None) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def print_store_summary(store: Store, settings: Settings) -> None:
    counts = store.table_counts()
    width = max(map(len, counts))
    print("rows per table:")
    for table, n in counts.items():
        print(f"  {table:<{width}}  {n:>8,}")
    today = clock.today(settings.today)
    last = store.last_race_with_results()
    print(f"last race with results: {last.label + ' (' + last.date.isoformat() + ')' if last else 'none'}")
    upcoming = store.next_races(today, 1)
    print(f"next race: {upcoming[0].label + ' (' + upcoming[0].date.isoformat() + ')' if upcoming else 'none scheduled'}")
    stale = store.races_missing_results(today)
    if stale:
        print(f"warning: {len(stale)} race(s) dated before {today} have no results yet "
              f"(first: {stale[0].label}); run `python -m f1core ingest --api` when the API is reachable")


def cmd_ingest(args: argparse.Namespace, runtime) -> int:
    from f1core.engine.training import NotEnoughData
    from f1core.ingest import refresh as refresh_mod
    from f1core.ingest.ergast_csv import import_dump
    from f1core.ingest.weather_csv import import_weather

    store, settings = runtime.store, runtime.settings
    started = time.perf_counter()
    print(f"store: {settings.db_path}", file=sys.stderr)
    if args.snapshot:
        run = import_dump(store, args.snapshot, _say)
        _say(f"snapshot: {run.total_added:,} rows added")
        for note in run.notes:
            _say(f"snapshot: {note}")
    if args.weather:
        run = import_weather(store, args.weather, _say)
        _say(f"weather: {run.total_added:,} rows added")
    outcomes = []
    if args.api or not (args.snapshot or args.weather):
        # With no explicit source, do what the app's refresh does (bootstrap from settings if empty).
        outcomes = refresh_mod.refresh(store, settings, _say, use_api=args.api or not settings.snapshot)
        print("sources:")
        for o in outcomes:
            print(f"  {o.step:<18} {'ok' if o.ok else 'FAILED':<7} {o.message}")
    if not args.no_upkeep and not store.is_empty():
        try:
            for line in runtime.lifecycle.upkeep(_say):
                print(f"upkeep: {line}")
        except NotEnoughData as exc:  # the data landed; a model needs more of it
            print(f"upkeep: no model trained yet: {exc}")
    print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print_store_summary(store, settings)
    failed = {o.step for o in outcomes if not o.ok}
    if failed & REQUIRED_STEPS or (outcomes and len(failed) == len(outcomes)):
        return EXIT_NOTHING_FETCHED
    return EXIT_OPTIONAL_FAILED if failed else 0


def _common_options() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name. SUPPRESS keeps a value given before
    the command from being reset by the command's own parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, help="DuckDB file (default: F1_DB or data/f1.duckdb)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log details")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(prog="python -m f1core", parents=[common],
                                     description="F1 prediction dashboard: data and models")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser(
        "ingest", parents=[common], help="load the dump, weather files and/or new races from the API",
        description="Fill or refresh the store, then run the app's upkeep (retrain when due, freeze the "
                    "predictions shown, keep the backtest current).",
        epilog=f"Exit status: 0 every source delivered; {EXIT_NOTHING_FETCHED} the race data could not be fetched "
               f"(the store is unchanged); {EXIT_OPTIONAL_FAILED} the race data landed but an optional source "
               "(FastF1 or Open-Meteo weather) failed; 2 bad input or settings.")
    ingest.add_argument("--snapshot", type=Path, help="folder or zip of Ergast-format CSVs")
    ingest.add_argument("--weather", type=Path, help="folder of race weather CSVs")
    ingest.add_argument("--api", action="store_true", help="fetch races newer than the store from Jolpica, "
                        "session weather from FastF1 and forecasts from Open-Meteo")
    ingest.add_argument("--no-upkeep", action="store_true", help="only load data: no retraining, freezing or backtest")
    ingest.set_defaults(func=cmd_ingest, creates_store=True)

    from f1core.engine import cli as engine_cli  # the model commands live beside the engine

    engine_cli.add_commands(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from f1core.engine.cli import PLAIN_ERRORS
    from f1core.runtime import open_runtime

    try:
        settings = load_settings()
        if getattr(args, "db", None):
            settings = dataclasses.replace(settings, db_path=Path(args.db))
        runtime = open_runtime(settings, must_exist=not getattr(args, "creates_store", False))
        try:
            return args.func(args, runtime)
        finally:
            runtime.store.close()
    except (IngestError, StoreError, SettingsError, *PLAIN_ERRORS) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
