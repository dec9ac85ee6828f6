"""Ergast JSON objects (Jolpica's answers) turned into store rows, and the rows of one run collected.

Nothing here fetches or writes: `Batch` gathers what the importer fetched, each row remembering the
URL it came from, and `Batch.frames()` checks references and keys and returns what to write.
"""
from __future__ import annotations

import datetime as dt
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from f1core.ingest.csvfiles import lap_seconds
from f1core.ingest.http import SourceError
from f1core.ingest.validate import (
    Origin,
    check_plausible,
    fail,
    json_date,
    json_float,
    json_int,
    json_list,
    json_obj,
    json_text,
    json_time,
)
from f1core.schema import PRIMARY_KEYS
from f1core.store import Store


@dataclass
class Page:
    """One page of a paged response, kept with its URL so errors can name it."""
    url: str
    items: list[Any]


# --- mapping Ergast objects to store rows -------------------------------------------------------

_SESSIONS = (("FirstPractice", "fp1"), ("SecondPractice", "fp2"), ("ThirdPractice", "fp3"),
             ("Qualifying", "quali"), ("Sprint", "sprint"))


def _race_key(race: Any, url: str, index: int) -> tuple[int, int]:
    where = f"Races[{index}]"
    if not isinstance(race, dict):
        raise fail(url, where, "is not a JSON object")
    return json_int(race, "season", url, where, True), json_int(race, "round", url, where, True)


def _circuit_row(race: dict, url: str, where: str) -> tuple[str, dict | None]:
    """The circuit's ref, and a full row when the response describes it well enough to add it."""
    c = json_obj(race, "Circuit", url, where)
    cwhere = f"{where} Circuit"
    ref = json_text(c, "circuitId", url, cwhere, required=True)
    loc = json_obj(c, "Location", url, cwhere, required=False) or {}
    row = {
        "circuit_ref": ref,
        "name": json_text(c, "circuitName", url, cwhere),
        "location": json_text(loc, "locality", url, f"{cwhere} Location"),
        "country": json_text(loc, "country", url, f"{cwhere} Location"),
        "lat": json_float(loc, "lat", url, f"{cwhere} Location"),
        "lng": json_float(loc, "long", url, f"{cwhere} Location"),
        "url": json_text(c, "url", url, cwhere),
    }
    return ref, (row if row["name"] else None)


def _race_row(race: dict, key: tuple[int, int], url: str) -> tuple[dict, str, dict | None]:
    where = f"race {key[0]} R{key[1]}"
    circuit_ref, circuit = _circuit_row(race, url, where)
    row: dict[str, Any] = {
        "season": key[0], "round": key[1], "circuit_ref": circuit_ref,
        "name": json_text(race, "raceName", url, where, required=True),
        "date": json_date(race, "date", url, where, required=True),
        "time": json_time(race, "time", url, where),
        "url": json_text(race, "url", url, where),
    }
    for api_key, col in _SESSIONS:
        session = json_obj(race, api_key, url, where, required=False) or {}
        row[f"{col}_date"] = json_date(session, "date", url, f"{where} {api_key}")
        row[f"{col}_time"] = json_time(session, "time", url, f"{where} {api_key}")
    return row, circuit_ref, circuit


def _driver(row: dict, url: str, where: str) -> tuple[str, dict | None]:
    d = json_obj(row, "Driver", url, where)
    dwhere = f"{where} Driver"
    ref = json_text(d, "driverId", url, dwhere, required=True)
    full = {
        "driver_ref": ref,
        "number": json_int(d, "permanentNumber", url, dwhere),
        "code": json_text(d, "code", url, dwhere),
        "forename": json_text(d, "givenName", url, dwhere),
        "surname": json_text(d, "familyName", url, dwhere),
        "dob": json_date(d, "dateOfBirth", url, dwhere),
        "nationality": json_text(d, "nationality", url, dwhere),
        "url": json_text(d, "url", url, dwhere),
    }
    return ref, (full if full["forename"] and full["surname"] else None)


def _constructor(row: dict, url: str, where: str) -> tuple[str, dict | None]:
    c = json_obj(row, "Constructor", url, where)
    cwhere = f"{where} Constructor"
    ref = json_text(c, "constructorId", url, cwhere, required=True)
    full = {
        "constructor_ref": ref,
        "name": json_text(c, "name", url, cwhere),
        "nationality": json_text(c, "nationality", url, cwhere),
        "url": json_text(c, "url", url, cwhere),
    }
    return ref, (full if full["name"] else None)


def _result_row(r: dict, key: tuple[int, int], url: str, where: str) -> dict:
    position_order = json_int(r, "position", url, where, required=True)
    position_text = json_text(r, "positionText", url, where, required=True)
    time_obj = json_obj(r, "Time", url, where, required=False) or {}
    fastest = json_obj(r, "FastestLap", url, where, required=False) or {}
    fl_time = json_obj(fastest, "Time", url, f"{where} FastestLap", required=False) or {}
    fl_speed = json_obj(fastest, "AverageSpeed", url, f"{where} FastestLap", required=False) or {}
    return {
        "season": key[0], "round": key[1],
        "number": json_int(r, "number", url, where),
        "grid": json_int(r, "grid", url, where),
        # Ergast's `position` is the classification order and is always set; the store keeps it as
        # position_order and keeps `position` only for classified finishers ("R", "D", ... get NULL).
        "position": position_order if position_text.isdigit() else None,
        "position_text": position_text,
        "position_order": position_order,
        "points": json_float(r, "points", url, where),
        "laps": json_int(r, "laps", url, where),
        "time": json_text(time_obj, "time", url, f"{where} Time"),
        "milliseconds": json_int(time_obj, "millis", url, f"{where} Time"),
        "fastest_lap": json_int(fastest, "lap", url, f"{where} FastestLap"),
        "fastest_lap_rank": json_int(fastest, "rank", url, f"{where} FastestLap"),
        "fastest_lap_time": json_text(fl_time, "time", url, f"{where} FastestLap Time"),
        "fastest_lap_speed": json_float(fl_speed, "speed", url, f"{where} FastestLap AverageSpeed"),
        "status": json_text(r, "status", url, where),
    }


def _qualifying_row(q: dict, key: tuple[int, int], url: str, where: str) -> dict:
    row = {
        "season": key[0], "round": key[1],
        "number": json_int(q, "number", url, where),
        "position": json_int(q, "position", url, where, required=True),
    }
    for api_key, col in (("Q1", "q1"), ("Q2", "q2"), ("Q3", "q3")):
        row[col] = json_text(q, api_key, url, where)
    return row


def _row_label(item: dict, index: int, noun: str) -> str:
    """'result P5 (piastri)': rows of a race split across pages restart their index on each page,
    so the position and driver identify a row better than its place in the list."""
    position = item.get("position")
    driver = item.get("Driver")
    driver_id = driver.get("driverId") if isinstance(driver, dict) else None
    label = f"{noun} P{position}" if isinstance(position, (str, int)) and str(position) else f"{noun} #{index + 1} on the page"
    return label + (f" ({driver_id})" if isinstance(driver_id, str) else "")


# --- collecting a run's rows --------------------------------------------------------------------

_COLUMNS: dict[str, dict[str, str]] = {
    "seasons": {"season": "Int64", "url": "object"},
    "circuits": {"circuit_ref": "object", "name": "object", "location": "object", "country": "object",
                 "lat": "float64", "lng": "float64", "url": "object"},
    "drivers": {"driver_ref": "object", "number": "Int64", "code": "object", "forename": "object",
                "surname": "object", "dob": "object", "nationality": "object", "url": "object"},
    "constructors": {"constructor_ref": "object", "name": "object", "nationality": "object", "url": "object"},
    "races": {"season": "Int64", "round": "Int64", "circuit_ref": "object", "name": "object", "date": "object",
              "time": "object", "url": "object",
              **{f"{s}_{p}": "object" for _, s in _SESSIONS for p in ("date", "time")}},
    "results": {"season": "Int64", "round": "Int64", "driver_ref": "object", "constructor_ref": "object",
                "number": "Int64", "grid": "Int64", "position": "Int64", "position_text": "object",
                "position_order": "Int64", "points": "float64", "laps": "Int64", "time": "object",
                "milliseconds": "Int64", "fastest_lap": "Int64", "fastest_lap_rank": "Int64",
                "fastest_lap_time": "object", "fastest_lap_speed": "float64", "status": "object"},
    "qualifying": {"season": "Int64", "round": "Int64", "driver_ref": "object", "constructor_ref": "object",
                   "number": "Int64", "position": "Int64", "q1": "object", "q2": "object", "q3": "object",
                   "q1_s": "float64", "q2_s": "float64", "q3_s": "float64"},
}
_COLUMNS["sprint_results"] = _COLUMNS["results"]

RESULT_KINDS = {  # store table -> (the Race's list key, what to call a row in messages)
    "results": ("Results", "result"),
    "sprint_results": ("SprintResults", "sprint result"),
    "qualifying": ("QualifyingResults", "qualifying"),
}


@dataclass
class Known:
    """What the store already holds, read once before fetching."""
    drivers: set[str]
    constructors: set[str]
    circuits: set[str]
    seasons: set[int]
    races: dict[tuple[int, int], str]  # (season, round) -> circuit_ref
    dates: dict[tuple[int, int], dt.date]  # (season, round) -> race date
    counts: dict[str, dict[tuple[int, int], int]]  # results/qualifying/sprint_results -> rows per race
    people: dict[tuple[dt.date, str], str] = field(default_factory=dict)  # `person(...)` -> driver_ref

    def stored_as(self, driver: dict | None) -> str | None:
        """The ref the store keeps a newly named driver under, when it is someone it knows: the API
        renames an id now and then (a rookie's first id corrected), and rows under the new one
        would make a second driver with no history."""
        if driver is None or driver["driver_ref"] in self.drivers:
            return None
        return self.people.get(person(driver["dob"], driver["surname"]))

    @property
    def with_results(self) -> set[tuple[int, int]]:
        return set(self.counts["results"])

    @property
    def with_qualifying(self) -> set[tuple[int, int]]:
        return set(self.counts["qualifying"])

    @property
    def with_sprint(self) -> set[tuple[int, int]]:
        return set(self.counts["sprint_results"])

    @classmethod
    def read(cls, store: Store) -> "Known":
        def counts(table: str) -> dict[tuple[int, int], int]:
            return {(int(s), int(r)): int(n) for s, r, n in
                    _rows(store, f"SELECT season, round, count(*) FROM {table} GROUP BY season, round")}
        races = _rows(store, "SELECT season, round, circuit_ref, date FROM races")
        return cls(
            drivers={r for (r,) in _rows(store, "SELECT driver_ref FROM drivers")},
            constructors={r for (r,) in _rows(store, "SELECT constructor_ref FROM constructors")},
            circuits={r for (r,) in _rows(store, "SELECT circuit_ref FROM circuits")},
            seasons={int(s) for (s,) in _rows(store, "SELECT season FROM seasons")},
            races={(int(s), int(r)): c for s, r, c, _ in races},
            dates={(int(s), int(r)): d for s, r, _, d in races},
            counts={t: counts(t) for t in RESULT_KINDS},
            people=_people(_rows(store, "SELECT driver_ref, dob, surname FROM drivers WHERE dob IS NOT NULL")),
        )


def _people(drivers: list[tuple]) -> dict[tuple[dt.date, str], str]:
    refs: dict[tuple[dt.date, str], set[str]] = {}
    for ref, dob, surname in drivers:
        refs.setdefault(person(dob, surname), set()).add(ref)
    return {who: next(iter(r)) for who, r in refs.items() if len(r) == 1}  # never a guess between two


def person(dob: dt.date | None, surname: str | None) -> tuple[dt.date, str] | None:
    """Who a driver is, whatever the id: born on that day with that surname (accents and case
    aside, as sources spell 'Pérez' and 'Perez'). No two drivers share both."""
    if dob is None or not surname:
        return None
    plain = unicodedata.normalize("NFKD", surname).encode("ascii", "ignore").decode().casefold().strip()
    return dob, plain


def _rows(store: Store, sql: str) -> list[tuple]:
    return store.rows(sql)


@dataclass
class Batch:
    """Rows gathered from the API for one run, each remembering the URL it came from. Nothing here
    touches the store; `frames()` checks references and keys and returns what to write."""
    known: Known
    races: dict[tuple[int, int], dict] = field(default_factory=dict)
    schedule_keys: dict[int, set[int]] = field(default_factory=dict)  # season -> rounds listed by the API
    circuits: dict[str, dict] = field(default_factory=dict)
    drivers: dict[str, dict] = field(default_factory=dict)
    constructors: dict[str, dict] = field(default_factory=dict)
    seasons: dict[int, dict] = field(default_factory=dict)
    rows: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in RESULT_KINDS})
    # Every row of every race the responses held, kept or not, for the plausibility checks.
    seen: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in RESULT_KINDS})
    # (kind, ref, what the response must give to introduce a new one, where it was seen)
    refs: list[tuple[str, str, str, Origin]] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # the API's new driver id -> the store's

    def notes(self) -> list[str]:
        return [f"driver id {new!r} is {old!r} of the store (same birth date and surname); stored as {old!r}"
                for new, old in self.renamed.items()]

    def add_schedule(self, season: int, pages: list[Page]) -> None:
        listed = self.schedule_keys.setdefault(season, set())
        for page in pages:
            for i, race in enumerate(page.items):
                key = _race_key(race, page.url, i)
                if key[0] != season:
                    raise fail(page.url, f"Races[{i}]", f"season {key[0]} in the schedule of {season}")
                row, circuit_ref, circuit = _race_row(race, key, page.url)
                self._circuit(circuit_ref, circuit, Origin(page.url, f"race {key[0]} R{key[1]}"))
                self.races[key] = row
                listed.add(key[1])

    def add_rows(self, table: str, pages: list[Page], wanted: Callable[[tuple[int, int]], bool],
                 asked: tuple[int, int | None]) -> None:
        """Rows of `table` from the Races of `pages`, kept for the races `wanted` accepts. Every
        race and row is checked, kept or not: a response broken anywhere is not trusted anywhere,
        and one holding a race outside what was `asked` (a season, or a season and round) is
        refused rather than quietly ignored. A race split across two pages arrives as two Race
        objects with the same (season, round); their rows are appended in page order."""
        list_key, noun = RESULT_KINDS[table]
        for page in pages:
            for i, race in enumerate(page.items):
                key = _race_key(race, page.url, i)
                race_where = f"race {key[0]} R{key[1]}"
                if key[0] != asked[0] or asked[1] not in (None, key[1]):
                    scope = f"{asked[0]} R{asked[1]}" if asked[1] is not None else f"the {asked[0]} season"
                    raise fail(page.url, f"Races[{i}]", f"the response holds {race_where}, but {scope} was asked "
                               "for; refusing it")
                header, circuit_ref, circuit = _race_row(race, key, page.url)
                parsed = []
                for j, item in enumerate(json_list(race, list_key, page.url, race_where)):
                    if not isinstance(item, dict):
                        raise fail(page.url, f"{race_where} {noun} #{j + 1} on the page", "is not a JSON object")
                    where = f"{race_where} {_row_label(item, j, noun)}"
                    if table == "qualifying":
                        row = _qualifying_row(item, key, page.url, where)
                    else:
                        row = _result_row(item, key, page.url, where)
                    row["driver_ref"], driver = _driver(item, page.url, where)
                    renamed = None
                    if (stored := self.known.stored_as(driver)) is not None:
                        renamed, row["driver_ref"], driver = row["driver_ref"], stored, None
                    row["constructor_ref"], constructor = _constructor(item, page.url, where)
                    row["_origin"] = Origin(page.url, where)
                    parsed.append((row, driver, constructor, renamed))
                    self.seen[table].append(row)
                if not wanted(key):
                    continue
                if key not in self.races and key not in self.known.races:
                    # A race the store never heard of and the schedule did not list: its header here
                    # is all there is, and it is enough to add it.
                    self._circuit(circuit_ref, circuit, Origin(page.url, race_where))
                    self.races[key] = header
                for row, driver, constructor, renamed in parsed:
                    if renamed is not None:
                        self.renamed[renamed] = row["driver_ref"]
                    if driver is not None:
                        self.drivers.setdefault(row["driver_ref"], driver)
                    if constructor is not None:
                        self.constructors.setdefault(row["constructor_ref"], constructor)
                    self.refs.append(("driver", row["driver_ref"], "givenName/familyName", row["_origin"]))
                    self.refs.append(("constructor", row["constructor_ref"], "name", row["_origin"]))
                    self.rows[table].append(row)

    def add_seasons(self, pages: list[Page], wanted: set[int]) -> None:
        for page in pages:
            for i, s in enumerate(page.items):
                where = f"Seasons[{i}]"
                if not isinstance(s, dict):
                    raise fail(page.url, where, "is not a JSON object")
                season = json_int(s, "season", page.url, where, required=True)
                if season in wanted:
                    self.seasons[season] = {"season": season, "url": json_text(s, "url", page.url, where)}

    def _circuit(self, ref: str, row: dict | None, origin: Origin) -> None:
        if row is not None:
            self.circuits.setdefault(ref, row)
        self.refs.append(("circuit", ref, "circuitName", origin))

    def frames(self) -> dict[str, pd.DataFrame]:
        known = {"driver": self.known.drivers, "constructor": self.known.constructors, "circuit": self.known.circuits}
        described = {"driver": self.drivers, "constructor": self.constructors, "circuit": self.circuits}
        for kind, ref, needed, origin in self.refs:
            if ref not in known[kind] and ref not in described[kind]:
                raise SourceError(
                    f"{origin.url}: {origin.where}: unknown {kind} {ref!r}: not in the store, and the "
                    f"response does not describe it ({needed} missing)"
                )
        out: dict[str, list[dict]] = {
            "seasons": list(self.seasons.values()),
            # Only new drivers, constructors and circuits are added: the dump's rows carry fields the
            # API does not (a circuit's altitude), and the API's embedded copies must not blank them.
            "circuits": [r for ref, r in self.circuits.items() if ref not in self.known.circuits],
            "drivers": [r for ref, r in self.drivers.items() if ref not in self.known.drivers],
            "constructors": [r for ref, r in self.constructors.items() if ref not in self.known.constructors],
            "races": list(self.races.values()),
        }
        for table in RESULT_KINDS:
            seen = _dedupe(self.seen[table])
            check_plausible(table, _frame(table, seen), [row["_origin"] for row in seen])
            out[table] = _dedupe(self.rows[table])
        for table, rows in out.items():
            _check_keys(table, rows)
        return {table: _frame(table, rows) for table, rows in out.items() if rows}


def _dedupe(rows: list[dict]) -> list[dict]:
    # When a result is published while we page, the API's rows shift by one and a row can arrive
    # on two pages; identical copies are harmless and dropped, different ones stay and fail the
    # key check below.
    seen: set[str] = set()
    out = []
    for row in rows:
        fingerprint = json.dumps({k: v for k, v in row.items() if k != "_origin"}, sort_keys=True, default=str)
        if fingerprint not in seen:
            seen.add(fingerprint)
            out.append(row)
    return out


def _check_keys(table: str, rows: list[dict]) -> None:
    keys = PRIMARY_KEYS[table]
    seen: dict[tuple, dict] = {}
    for row in rows:
        k = tuple(row[c] for c in keys)
        if k in seen:
            origin = row.get("_origin")
            where = f"{origin.url}: {origin.where}" if origin else table
            raise SourceError(f"{where}: two different {table} rows for {dict(zip(keys, k))}")
        seen[k] = row


def _frame(table: str, rows: list[dict]) -> pd.DataFrame:
    columns = _COLUMNS[table]
    frame = pd.DataFrame.from_records([[row.get(c) for c in columns] for row in rows], columns=list(columns))
    if table == "qualifying":
        for col in ("q1", "q2", "q3"):
            frame[f"{col}_s"] = lap_seconds(frame[col]).to_numpy()
    # Nullable integers stay integers (a float column would turn 5455026 ms into 5455026.0);
    # text, date and time columns stay Python objects with None, which DuckDB casts on insert.
    return frame.astype({c: d for c, d in columns.items() if d != "object"})
