"""Importer for the Ergast-format CSV dump (the classic Kaggle/Ergast tables), folder or `.zip`.

The dump's numeric ids are resolved to natural keys here and never stored: races become
(season, round), drivers driver_ref, and so on. Every file is read and checked before anything is
written, and all tables land in one transaction.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from f1core.ingest.csvfiles import (
    CsvSource,
    CsvTable,
    as_date,
    as_float,
    as_int,
    as_time,
    lap_seconds,
    line_origins,
    read_csv_strict,
    require,
    unique,
)
from f1core.ingest.runs import IngestError, RunResult, ingestion_run
from f1core.ingest.validate import LAP_BOUNDS, PLAUSIBLE, check_plausible
from f1core.schema import PRIMARY_KEYS
from f1core.store import Store

log = logging.getLogger(__name__)

REQUIRED_FILES = ["circuits.csv", "drivers.csv", "constructors.csv", "races.csv", "results.csv"]

_RESULT_FIELDS = [
    ("number", "number", "int"), ("grid", "grid", "int"), ("position", "position", "int"),
    ("positionText", "position_text", "str"), ("positionOrder", "position_order", "int"),
    ("points", "points", "float"), ("laps", "laps", "int"), ("time", "time", "str"),
    ("milliseconds", "milliseconds", "int"), ("fastestLap", "fastest_lap", "int"),
    ("rank", "fastest_lap_rank", "int"), ("fastestLapTime", "fastest_lap_time", "str"),
    ("fastestLapSpeed", "fastest_lap_speed", "float"),
]


class _Ids:
    """Maps from the dump's numeric ids to natural keys, with errors that name the row."""

    def __init__(self) -> None:
        self.maps: dict[str, dict[int, object]] = {}

    def define(self, kind: str, table: CsvTable, id_column: str, keys: pd.Series, key_columns: list[str],
               key_values: list[pd.Series] | None = None) -> None:
        """The map for `kind`, from `table`'s ids to `keys`. Ids and natural keys must both be
        unique: a repeated driverId would give one driver's results to another, a repeated
        raceId move a race's results to a race that never was."""
        ids = as_int(table, id_column, required=True)
        unique(table, [id_column], [ids])
        unique(table, key_columns, key_values)
        self.maps[kind] = dict(zip(ids.astype(int), keys))

    def resolve(self, table: CsvTable, column: str, kind: str, source_file: str) -> pd.Series:
        ids = as_int(table, column, required=True)
        mapping = self.maps[kind]
        resolved = ids.map(lambda i: mapping.get(int(i)))
        unknown = resolved.isna()
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise table.fail(row, f"{column} {ids.iloc[row]} is not in {source_file}")
        return resolved


def _typed(table: CsvTable, fields: list[tuple[str, str, str]]) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    for csv_col, store_col, kind in fields:
        if kind == "int":
            out[store_col] = as_int(table, csv_col)
        elif kind == "float":
            out[store_col] = as_float(table, csv_col)
        else:
            out[store_col] = table.frame[csv_col] if csv_col in table.frame else None
    return out


def _set_aside_laps(table: CsvTable, frame: pd.DataFrame) -> list[str]:
    """Blank the qualifying lap times no car can run (seconds and text), keeping the row and its
    position.

    The dump is the whole history, and it has such glitches (1995 Japanese GP, Blundell: 16:42.640); one of
    them must not refuse 76 seasons, while storing it would shift that race's gaps to pole. The API,
    which brings one race at a time and can be asked again, refuses them instead."""
    notes = []
    lines = line_origins(table, frame)
    for bound in LAP_BOUNDS:
        bad = bound.outside(frame)
        notes += [f"{lines[i].url}: {lines[i].where}: {bound.problem(frame, i)}; left out" for i in np.flatnonzero(bad)]
        frame.loc[bad, [bound.column, bound.raw]] = None
    return notes


def read_dump(path: str | Path, progress: Callable[[str], None] | None = None
              ) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Read and check every file of the dump; returns store-shaped frames and the notes on what was
    left out of them. Raises IngestError."""
    src = CsvSource(path)
    missing = [f for f in REQUIRED_FILES if not src.has(f)]
    if missing:
        raise IngestError(f"{src.path}: not an Ergast-format dump, missing {', '.join(missing)}")
    say = progress or (lambda _m: None)
    ids = _Ids()
    frames: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    loaded: dict[str, CsvTable] = {}  # table name (the file's, without .csv) -> what was read

    def load(name: str, required: list[str]) -> CsvTable | None:
        if not src.has(name):
            return None
        say(f"reading {name}")
        loaded[name.removesuffix(".csv")] = read_csv_strict(src, name, required)
        return loaded[name.removesuffix(".csv")]

    if (t := load("seasons.csv", ["year"])) is not None:
        frames["seasons"] = pd.DataFrame({"season": as_int(t, "year", required=True), "url": t.frame.get("url")})

    t = load("circuits.csv", ["circuitId", "circuitRef"])
    require(t, "circuitRef", t.frame["circuitRef"])
    ids.define("circuit", t, "circuitId", t.frame["circuitRef"], ["circuitRef"])
    frames["circuits"] = pd.DataFrame({
        "circuit_ref": t.frame["circuitRef"], "name": t.frame.get("name"), "location": t.frame.get("location"),
        "country": t.frame.get("country"), "lat": as_float(t, "lat"), "lng": as_float(t, "lng"),
        "alt": as_float(t, "alt"), "url": t.frame.get("url"),
    })

    t = load("drivers.csv", ["driverId", "driverRef"])
    require(t, "driverRef", t.frame["driverRef"])
    ids.define("driver", t, "driverId", t.frame["driverRef"], ["driverRef"])
    frames["drivers"] = pd.DataFrame({
        "driver_ref": t.frame["driverRef"], "number": as_int(t, "number"), "code": t.frame.get("code"),
        "forename": t.frame.get("forename"), "surname": t.frame.get("surname"), "dob": as_date(t, "dob"),
        "nationality": t.frame.get("nationality"), "url": t.frame.get("url"),
    })

    t = load("constructors.csv", ["constructorId", "constructorRef"])
    require(t, "constructorRef", t.frame["constructorRef"])
    ids.define("constructor", t, "constructorId", t.frame["constructorRef"], ["constructorRef"])
    frames["constructors"] = pd.DataFrame({
        "constructor_ref": t.frame["constructorRef"], "name": t.frame.get("name"),
        "nationality": t.frame.get("nationality"), "url": t.frame.get("url"),
    })

    ids.maps["status"] = {}
    if (t := load("status.csv", ["statusId", "status"])) is not None:
        status_ids = as_int(t, "statusId", required=True)
        unique(t, ["statusId"], [status_ids])
        ids.maps["status"] = dict(zip(status_ids.astype(int), t.frame["status"]))
        frames["status"] = pd.DataFrame({"status_id": status_ids, "status": t.frame["status"]})

    t = load("races.csv", ["raceId", "year", "round", "circuitId", "name", "date"])
    season, rnd = as_int(t, "year", required=True), as_int(t, "round", required=True)
    ids.define("race", t, "raceId", pd.Series(list(zip(season.astype(int), rnd.astype(int))), dtype=object),
               ["year", "round"], [season, rnd])
    races = {
        "season": season, "round": rnd,
        "circuit_ref": ids.resolve(t, "circuitId", "circuit", "circuits.csv"),
        "name": t.frame["name"], "date": as_date(t, "date", required=True), "time": as_time(t, "time"),
        "url": t.frame.get("url"),
    }
    for session in ("fp1", "fp2", "fp3", "quali", "sprint"):
        races[f"{session}_date"] = as_date(t, f"{session}_date")
        races[f"{session}_time"] = as_time(t, f"{session}_time")
    frames["races"] = pd.DataFrame(races)

    def race_keys(table: CsvTable, name: str) -> dict[str, pd.Series]:
        keys = ids.resolve(table, "raceId", "race", "races.csv")
        return {"season": keys.map(lambda k: k[0]).astype("Int64"), "round": keys.map(lambda k: k[1]).astype("Int64")}

    for name, table_name in (("results.csv", "results"), ("sprint_results.csv", "sprint_results")):
        t = load(name, ["raceId", "driverId", "constructorId", "positionOrder"])
        if t is None:
            continue
        cols = race_keys(t, name)
        cols["driver_ref"] = ids.resolve(t, "driverId", "driver", "drivers.csv")
        cols["constructor_ref"] = ids.resolve(t, "constructorId", "constructor", "constructors.csv")
        cols.update(_typed(t, _RESULT_FIELDS))
        require(t, "positionOrder", cols["position_order"])
        if "statusId" in t.frame:
            status = as_int(t, "statusId")
            resolved = status.map(lambda s: None if pd.isna(s) else ids.maps["status"].get(int(s)))
            unknown = status.notna() & resolved.isna()
            if unknown.any():
                row = int(np.flatnonzero(unknown.to_numpy())[0])
                raise t.fail(row, f"statusId {status.iloc[row]} is not in status.csv")
            cols["status"] = resolved
        frames[table_name] = pd.DataFrame(cols)

    if (t := load("qualifying.csv", ["raceId", "driverId", "constructorId"])) is not None:
        cols = race_keys(t, "qualifying.csv")
        cols["driver_ref"] = ids.resolve(t, "driverId", "driver", "drivers.csv")
        cols["constructor_ref"] = ids.resolve(t, "constructorId", "constructor", "constructors.csv")
        cols["number"], cols["position"] = as_int(t, "number"), as_int(t, "position")
        for q in ("q1", "q2", "q3"):
            cols[q] = t.frame.get(q)
            cols[f"{q}_s"] = lap_seconds(t.frame[q]) if q in t.frame else np.nan
        frames["qualifying"] = pd.DataFrame(cols)
        notes += _set_aside_laps(t, frames["qualifying"])

    if (t := load("pit_stops.csv", ["raceId", "driverId", "stop"])) is not None:
        cols = race_keys(t, "pit_stops.csv")
        cols["driver_ref"] = ids.resolve(t, "driverId", "driver", "drivers.csv")
        cols["stop"] = as_int(t, "stop", required=True)
        cols["lap"], cols["time"] = as_int(t, "lap"), t.frame.get("time")
        cols["duration"], cols["milliseconds"] = t.frame.get("duration"), as_int(t, "milliseconds")
        frames["pit_stops"] = pd.DataFrame(cols)

    for name, table_name, who, who_file in (
        ("driver_standings.csv", "driver_standings", "driver", "drivers.csv"),
        ("constructor_standings.csv", "constructor_standings", "constructor", "constructors.csv"),
    ):
        id_col = f"{who}Id"
        if (t := load(name, ["raceId", id_col])) is None:
            continue
        cols = race_keys(t, name)
        cols[f"{who}_ref"] = ids.resolve(t, id_col, who, who_file)
        cols["points"], cols["position"] = as_float(t, "points"), as_int(t, "position")
        cols["position_text"], cols["wins"] = t.frame.get("positionText"), as_int(t, "wins")
        frames[table_name] = pd.DataFrame(cols)

    if (t := load("constructor_results.csv", ["raceId", "constructorId"])) is not None:
        cols = race_keys(t, "constructor_results.csv")
        cols["constructor_ref"] = ids.resolve(t, "constructorId", "constructor", "constructors.csv")
        cols["points"], cols["status"] = as_float(t, "points"), t.frame.get("status")
        frames["constructor_results"] = pd.DataFrame(cols)

    for table, frame in frames.items():
        # Each frame holds its file's rows in order, so a duplicate key names the file's lines.
        keys = PRIMARY_KEYS[table]
        unique(loaded[table], keys, [frame[k] for k in keys])
        if table in PLAUSIBLE:
            check_plausible(table, frame, line_origins(loaded[table], frame), refusing="the dump")
    return frames, notes


def import_dump(store: Store, path: str | Path, progress: Callable[[str], None] | None = None) -> RunResult:
    """Load a dump into the store: all tables in one transaction, recorded in the ingestion log."""
    with ingestion_run(store, f"ergast-csv:{path}") as run:
        load_dump(run, path, progress)
    return run


def load_dump(run: RunResult, path: str | Path, progress: Callable[[str], None] | None = None) -> None:
    """Read the dump at `path` and write all its tables in `run`'s one transaction."""
    frames, notes = read_dump(path, progress)
    for note in notes:
        log.warning("%s", note)
    run.notes += notes
    if progress:
        progress("writing to the store")
    with run.transaction() as cur:
        # the dump gives each of its races whole: what it says replaces what the store had of them
        run.corrected(Store.drop_stale_race_rows(cur, frames))
        run.add(Store.upsert(cur, frames))
