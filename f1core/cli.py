"""Command line: `python -m f1core COMMAND`. `--db` and `F1_DB` both choose the store."""
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


def _say(message: str) -> None:
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


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from f1core.ingest import refresh as refresh_mod
    from f1core.ingest.ergast_csv import import_dump
    from f1core.ingest.weather_csv import import_weather

    store = Store(settings.db_path)
    started = time.perf_counter()
    failed = False
    print(f"store: {settings.db_path}", file=sys.stderr)
    if args.snapshot:
        run = import_dump(store, args.snapshot, _say)
        _say(f"snapshot: {run.total_added:,} rows added")
    if args.weather:
        run = import_weather(store, args.weather, _say)
        _say(f"weather: {run.total_added:,} rows added")
    if args.api or not (args.snapshot or args.weather):
        # With no explicit source, do what the app's refresh does (bootstrap from settings if empty).
        outcomes = refresh_mod.refresh(store, settings, _say, use_api=args.api or not settings.snapshot)
        failed = any(not o.ok for o in outcomes)
    print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print_store_summary(store, settings)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m f1core", description="F1 prediction dashboard: data and models")
    parser.add_argument("--db", help="DuckDB file (default: F1_DB or data/f1.duckdb)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="load the dump, weather files and/or new races from the API")
    ingest.add_argument("--snapshot", type=Path, help="folder or zip of Ergast-format CSVs")
    ingest.add_argument("--weather", type=Path, help="folder of race weather CSVs")
    ingest.add_argument("--api", action="store_true", help="fetch races newer than the store from Jolpica, "
                        "session weather from FastF1 and forecasts from Open-Meteo")
    ingest.set_defaults(func=cmd_ingest)

    from f1core.engine import cli as engine_cli  # the model commands live beside the engine

    engine_cli.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        if args.db:
            settings = dataclasses.replace(settings, db_path=Path(args.db))
        return args.func(args, settings)
    except (IngestError, StoreError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
