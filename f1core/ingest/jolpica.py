"""Client and importer for the Jolpica API (Ergast-compatible JSON).

The importer fetches everything it needs first, checks every response completely, and only then
writes, in one transaction: a bad page anywhere means nothing from the run lands. What it fetches is
kept small because the unauthenticated API allows about 500 requests an hour: season-level paged
endpoints when many races are missing, one request per race when only a couple are.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from f1core.config import DEFAULT_JOLPICA_URL
from f1core.ingest.csvfiles import lap_seconds
from f1core.ingest.http import DEFAULT_DEADLINE_S, DEFAULT_TIMEOUT, ApiClient, SourceError
from f1core.ingest.runs import IngestError, RunResult, ingestion_run
from f1core.schema import PRIMARY_KEYS, SOURCE_TABLES
from f1core.store import Store

log = logging.getLogger(__name__)

PAGE_LIMIT = 100  # the most Jolpica hands out per page
MAX_PAGES = 500  # a paging loop that runs longer than this is a server bug, not data
# Used only to guess how many pages a season-level request needs when choosing between
# season-level and per-race requests; a wrong guess costs a few requests, never data.
ROWS_PER_RACE = 22

Progress = Callable[[str], None] | None


# --- the client ---------------------------------------------------------------------------------

@dataclass
class Page:
    """One page of a paged response, kept with its URL so errors can name it."""
    url: str
    items: list[Any]


class JolpicaClient(ApiClient):
    """Talks to `{base_url}/...json`, following `limit`/`offset` paging. Returns the validated
    envelope contents (lists of Ergast objects); mapping to store rows happens in the importer."""

    def __init__(
        self,
        base_url: str = DEFAULT_JOLPICA_URL,
        session=None,
        rate_per_s: float = 4.0,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        *,
        retries: int = 3,
        backoff_factor: float = 0.5,
        deadline_s: float = DEFAULT_DEADLINE_S,
        page_limit: int = PAGE_LIMIT,
    ):
        super().__init__(base_url.rstrip("/"), session, rate_per_s=rate_per_s, timeout=timeout, retries=retries,
                         backoff_factor=backoff_factor, deadline_s=deadline_s)
        self.page_limit = page_limit

    def paged(self, path: str, table: str, items_key: str, rows_key: str | None = None) -> list[Page]:
        """Every page of `{base}/{path}`. Ergast counts `total` in rows of the innermost list
        (Results of all races, not races), so with `rows_key` the page size is checked against
        those rows; a page holding fewer rows than promised is treated as truncated."""
        url = f"{self.base_url}/{path}"
        pages: list[Page] = []
        offset = 0
        while True:
            where = f"{url}?limit={self.page_limit}&offset={offset}"
            data = self.http.get_json(url, {"limit": self.page_limit, "offset": offset})
            mr = _obj(data, "MRData", where, "the response")
            total = _int(mr, "total", where, "MRData", required=True)
            limit = _int(mr, "limit", where, "MRData", required=True)
            got_offset = _int(mr, "offset", where, "MRData", required=True)
            if got_offset != offset:
                raise SourceError(f"{where}: MRData.offset is {got_offset}, asked for {offset}")
            if limit <= 0:
                raise SourceError(f"{where}: MRData.limit is {limit}; cannot page")
            body = _obj(mr, table, where, "MRData")
            items = _list(body, items_key, where, f"MRData.{table}")
            if rows_key is None:
                count = len(items)
            else:
                count = 0
                for i, item in enumerate(items):
                    if not isinstance(item, dict):
                        raise SourceError(f"{where}: MRData.{table}.{items_key}[{i}] is not an object")
                    count += len(_list(item, rows_key, where, f"MRData.{table}.{items_key}[{i}]"))
            expected = max(0, min(limit, total - offset))
            if count < expected:
                raise SourceError(
                    f"{where}: the page holds {count} rows but MRData promises {expected} "
                    f"(total {total}, limit {limit}); truncated response?"
                )
            pages.append(Page(where, items))
            offset += limit
            if offset >= total:
                return pages
            if len(pages) >= MAX_PAGES:
                raise SourceError(f"{url}: more than {MAX_PAGES} pages (total {total}); refusing to loop on")

    # Ergast endpoints --------------------------------------------------------------------------
    def schedule(self, season: int) -> list[Page]:
        return self.paged(f"{season}.json", "RaceTable", "Races")

    def results(self, season: int, round_: int | None = None) -> list[Page]:
        return self.paged(f"{_season_path(season, round_)}/results.json", "RaceTable", "Races", "Results")

    def qualifying(self, season: int, round_: int | None = None) -> list[Page]:
        return self.paged(f"{_season_path(season, round_)}/qualifying.json", "RaceTable", "Races", "QualifyingResults")

    def sprint(self, season: int, round_: int | None = None) -> list[Page]:
        return self.paged(f"{_season_path(season, round_)}/sprint.json", "RaceTable", "Races", "SprintResults")

    def seasons(self) -> list[Page]:
        return self.paged("seasons.json", "SeasonTable", "Seasons")

    def drivers(self, season: int | None = None) -> list[Page]:
        return self.paged(f"{season}/drivers.json" if season else "drivers.json", "DriverTable", "Drivers")

    def constructors(self, season: int | None = None) -> list[Page]:
        return self.paged(f"{season}/constructors.json" if season else "constructors.json", "ConstructorTable", "Constructors")


def _season_path(season: int, round_: int | None) -> str:
    return f"{season}/{round_}" if round_ is not None else str(season)


# --- checking values ----------------------------------------------------------------------------
# Ergast sends numbers as strings; JSON numbers are accepted too. Every failure names the URL and
# the item, because "invalid literal for int()" alone does not tell anyone which race broke.

def _fail(url: str, where: str, message: str) -> SourceError:
    return SourceError(f"{url}: {where}: {message}")


def _obj(d: Any, key: str, url: str, where: str, required: bool = True) -> dict | None:
    if not isinstance(d, dict):
        raise _fail(url, where, "is not a JSON object")
    value = d.get(key)
    if value is None:
        if required:
            raise _fail(url, where, f"missing key {key!r}")
        return None
    if not isinstance(value, dict):
        raise _fail(url, where, f"{key!r} is {type(value).__name__}, expected an object")
    return value


def _list(d: dict, key: str, url: str, where: str) -> list:
    if key not in d:
        raise _fail(url, where, f"missing key {key!r}")
    value = d[key]
    if not isinstance(value, list):
        raise _fail(url, where, f"{key!r} is {type(value).__name__}, expected a list")
    return value


def _text(d: dict, key: str, url: str, where: str, required: bool = False) -> str | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise _fail(url, where, f"missing key {key!r}")
        return None
    if not isinstance(value, str):
        raise _fail(url, where, f"{key!r} is {value!r}, expected text")
    return value


def _int(d: dict, key: str, url: str, where: str, required: bool = False) -> int | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise _fail(url, where, f"missing key {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _fail(url, where, f"{key!r} is {value!r}, expected a whole number")
    if isinstance(value, int):
        return value
    if not re.fullmatch(r"\s*-?\d+\s*", value):
        raise _fail(url, where, f"{key!r} is {value!r}, expected a whole number")
    return int(value)


def _float(d: dict, key: str, url: str, where: str, required: bool = False) -> float | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise _fail(url, where, f"missing key {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _fail(url, where, f"{key!r} is {value!r}, expected a number")
    try:
        number = float(value)
    except ValueError:
        raise _fail(url, where, f"{key!r} is {value!r}, expected a number") from None
    if not math.isfinite(number):
        raise _fail(url, where, f"{key!r} is {value!r}, expected a finite number")
    return number


def _date(d: dict, key: str, url: str, where: str, required: bool = False) -> dt.date | None:
    value = _text(d, key, url, where, required)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(url, where, f"{key!r} is {value!r}, expected a date like 2024-03-02") from None


_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-]00:?00)?$")


def _time(d: dict, key: str, url: str, where: str) -> str | None:
    value = _text(d, key, url, where)
    if value is None:
        return None
    m = _TIME.match(value)
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3]) > 59:
        raise _fail(url, where, f"{key!r} is {value!r}, expected a UTC time like 15:00:00Z")
    return f"{m[1]}:{m[2]}:{m[3]}"


# --- mapping Ergast objects to store rows -------------------------------------------------------

_SESSIONS = (("FirstPractice", "fp1"), ("SecondPractice", "fp2"), ("ThirdPractice", "fp3"),
             ("Qualifying", "quali"), ("Sprint", "sprint"))


def _race_key(race: Any, url: str, index: int) -> tuple[int, int]:
    where = f"Races[{index}]"
    if not isinstance(race, dict):
        raise _fail(url, where, "is not a JSON object")
    return _int(race, "season", url, where, True), _int(race, "round", url, where, True)


def _circuit_row(race: dict, url: str, where: str) -> tuple[str, dict | None]:
    """The circuit's ref, and a full row when the response describes it well enough to add it."""
    c = _obj(race, "Circuit", url, where)
    cwhere = f"{where} Circuit"
    ref = _text(c, "circuitId", url, cwhere, required=True)
    loc = _obj(c, "Location", url, cwhere, required=False) or {}
    row = {
        "circuit_ref": ref,
        "name": _text(c, "circuitName", url, cwhere),
        "location": _text(loc, "locality", url, f"{cwhere} Location"),
        "country": _text(loc, "country", url, f"{cwhere} Location"),
        "lat": _float(loc, "lat", url, f"{cwhere} Location"),
        "lng": _float(loc, "long", url, f"{cwhere} Location"),
        "url": _text(c, "url", url, cwhere),
    }
    return ref, (row if row["name"] else None)


def _race_row(race: dict, key: tuple[int, int], url: str) -> tuple[dict, str, dict | None]:
    where = f"race {key[0]} R{key[1]}"
    circuit_ref, circuit = _circuit_row(race, url, where)
    row: dict[str, Any] = {
        "season": key[0], "round": key[1], "circuit_ref": circuit_ref,
        "name": _text(race, "raceName", url, where, required=True),
        "date": _date(race, "date", url, where, required=True),
        "time": _time(race, "time", url, where),
        "url": _text(race, "url", url, where),
    }
    for api_key, col in _SESSIONS:
        session = _obj(race, api_key, url, where, required=False) or {}
        row[f"{col}_date"] = _date(session, "date", url, f"{where} {api_key}")
        row[f"{col}_time"] = _time(session, "time", url, f"{where} {api_key}")
    return row, circuit_ref, circuit


def _driver(row: dict, url: str, where: str) -> tuple[str, dict | None]:
    d = _obj(row, "Driver", url, where)
    dwhere = f"{where} Driver"
    ref = _text(d, "driverId", url, dwhere, required=True)
    full = {
        "driver_ref": ref,
        "number": _int(d, "permanentNumber", url, dwhere),
        "code": _text(d, "code", url, dwhere),
        "forename": _text(d, "givenName", url, dwhere),
        "surname": _text(d, "familyName", url, dwhere),
        "dob": _date(d, "dateOfBirth", url, dwhere),
        "nationality": _text(d, "nationality", url, dwhere),
        "url": _text(d, "url", url, dwhere),
    }
    return ref, (full if full["forename"] and full["surname"] else None)


def _constructor(row: dict, url: str, where: str) -> tuple[str, dict | None]:
    c = _obj(row, "Constructor", url, where)
    cwhere = f"{where} Constructor"
    ref = _text(c, "constructorId", url, cwhere, required=True)
    full = {
        "constructor_ref": ref,
        "name": _text(c, "name", url, cwhere),
        "nationality": _text(c, "nationality", url, cwhere),
        "url": _text(c, "url", url, cwhere),
    }
    return ref, (full if full["name"] else None)


def _result_row(r: dict, key: tuple[int, int], url: str, where: str) -> dict:
    position_order = _int(r, "position", url, where, required=True)
    position_text = _text(r, "positionText", url, where, required=True)
    time_obj = _obj(r, "Time", url, where, required=False) or {}
    fastest = _obj(r, "FastestLap", url, where, required=False) or {}
    fl_time = _obj(fastest, "Time", url, f"{where} FastestLap", required=False) or {}
    fl_speed = _obj(fastest, "AverageSpeed", url, f"{where} FastestLap", required=False) or {}
    return {
        "season": key[0], "round": key[1],
        "number": _int(r, "number", url, where),
        "grid": _int(r, "grid", url, where),
        # Ergast's `position` is the classification order and is always set; the store keeps it as
        # position_order and keeps `position` only for classified finishers ("R", "D", ... get NULL).
        "position": position_order if position_text.isdigit() else None,
        "position_text": position_text,
        "position_order": position_order,
        "points": _float(r, "points", url, where),
        "laps": _int(r, "laps", url, where),
        "time": _text(time_obj, "time", url, f"{where} Time"),
        "milliseconds": _int(time_obj, "millis", url, f"{where} Time"),
        "fastest_lap": _int(fastest, "lap", url, f"{where} FastestLap"),
        "fastest_lap_rank": _int(fastest, "rank", url, f"{where} FastestLap"),
        "fastest_lap_time": _text(fl_time, "time", url, f"{where} FastestLap Time"),
        "fastest_lap_speed": _float(fl_speed, "speed", url, f"{where} FastestLap AverageSpeed"),
        "status": _text(r, "status", url, where),
    }


def _qualifying_row(q: dict, key: tuple[int, int], url: str, where: str) -> dict:
    row = {
        "season": key[0], "round": key[1],
        "number": _int(q, "number", url, where),
        "position": _int(q, "position", url, where, required=True),
    }
    for api_key, col in (("Q1", "q1"), ("Q2", "q2"), ("Q3", "q3")):
        row[col] = _text(q, api_key, url, where)
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

_RESULT_KINDS = {  # store table -> (the Race's list key, what to call a row in messages)
    "results": ("Results", "result"),
    "sprint_results": ("SprintResults", "sprint result"),
    "qualifying": ("QualifyingResults", "qualifying"),
}


@dataclass
class _Known:
    """What the store already holds, read once before fetching."""
    drivers: set[str]
    constructors: set[str]
    circuits: set[str]
    seasons: set[int]
    races: dict[tuple[int, int], str]  # (season, round) -> circuit_ref
    with_results: set[tuple[int, int]]
    with_qualifying: set[tuple[int, int]]
    with_sprint: set[tuple[int, int]]

    @classmethod
    def read(cls, store: Store) -> "_Known":
        def keys(table: str) -> set[tuple[int, int]]:
            return {(int(s), int(r)) for s, r in _rows(store, f"SELECT DISTINCT season, round FROM {table}")}
        return cls(
            drivers={r for (r,) in _rows(store, "SELECT driver_ref FROM drivers")},
            constructors={r for (r,) in _rows(store, "SELECT constructor_ref FROM constructors")},
            circuits={r for (r,) in _rows(store, "SELECT circuit_ref FROM circuits")},
            seasons={int(s) for (s,) in _rows(store, "SELECT season FROM seasons")},
            races={(int(s), int(r)): c for s, r, c in _rows(store, "SELECT season, round, circuit_ref FROM races")},
            with_results=keys("results"),
            with_qualifying=keys("qualifying"),
            with_sprint=keys("sprint_results"),
        )


def _rows(store: Store, sql: str) -> list[tuple]:
    cur = store.cursor()
    try:
        return cur.execute(sql).fetchall()
    finally:
        cur.close()


@dataclass
class _Origin:
    url: str
    where: str


@dataclass
class _Batch:
    """Rows gathered from the API for one run, each remembering the URL it came from. Nothing here
    touches the store; `frames()` checks references and keys and returns what to write."""
    known: _Known
    races: dict[tuple[int, int], dict] = field(default_factory=dict)
    schedule_keys: dict[int, set[int]] = field(default_factory=dict)  # season -> rounds listed by the API
    circuits: dict[str, dict] = field(default_factory=dict)
    drivers: dict[str, dict] = field(default_factory=dict)
    constructors: dict[str, dict] = field(default_factory=dict)
    seasons: dict[int, dict] = field(default_factory=dict)
    rows: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in _RESULT_KINDS})
    # (kind, ref, what the response must give to introduce a new one, where it was seen)
    refs: list[tuple[str, str, str, _Origin]] = field(default_factory=list)

    def add_schedule(self, season: int, pages: list[Page]) -> None:
        listed = self.schedule_keys.setdefault(season, set())
        for page in pages:
            for i, race in enumerate(page.items):
                key = _race_key(race, page.url, i)
                if key[0] != season:
                    raise _fail(page.url, f"Races[{i}]", f"season {key[0]} in the schedule of {season}")
                row, circuit_ref, circuit = _race_row(race, key, page.url)
                self._circuit(circuit_ref, circuit, _Origin(page.url, f"race {key[0]} R{key[1]}"))
                self.races[key] = row
                listed.add(key[1])

    def add_rows(self, table: str, pages: list[Page], wanted: Callable[[tuple[int, int]], bool]) -> None:
        """Rows of `table` from the Races of `pages`, kept for the races `wanted` accepts. Every
        race and row is checked, kept or not: a response broken anywhere is not trusted anywhere.
        A race split across two pages arrives as two Race objects with the same (season, round);
        their rows are appended in page order."""
        list_key, noun = _RESULT_KINDS[table]
        for page in pages:
            for i, race in enumerate(page.items):
                key = _race_key(race, page.url, i)
                race_where = f"race {key[0]} R{key[1]}"
                header, circuit_ref, circuit = _race_row(race, key, page.url)
                parsed = []
                for j, item in enumerate(_list(race, list_key, page.url, race_where)):
                    if not isinstance(item, dict):
                        raise _fail(page.url, f"{race_where} {noun} #{j + 1} on the page", "is not a JSON object")
                    where = f"{race_where} {_row_label(item, j, noun)}"
                    if table == "qualifying":
                        row = _qualifying_row(item, key, page.url, where)
                    else:
                        row = _result_row(item, key, page.url, where)
                    row["driver_ref"], driver = _driver(item, page.url, where)
                    row["constructor_ref"], constructor = _constructor(item, page.url, where)
                    row["_origin"] = _Origin(page.url, where)
                    parsed.append((row, driver, constructor))
                if not wanted(key):
                    continue
                if key not in self.races and key not in self.known.races:
                    # A race the store never heard of and the schedule did not list: its header here
                    # is all there is, and it is enough to add it.
                    self._circuit(circuit_ref, circuit, _Origin(page.url, race_where))
                    self.races[key] = header
                for row, driver, constructor in parsed:
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
                    raise _fail(page.url, where, "is not a JSON object")
                season = _int(s, "season", page.url, where, required=True)
                if season in wanted:
                    self.seasons[season] = {"season": season, "url": _text(s, "url", page.url, where)}

    def _circuit(self, ref: str, row: dict | None, origin: _Origin) -> None:
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
        for table in _RESULT_KINDS:
            out[table] = _dedupe(self.rows[table])
        for table, rows in out.items():
            _check_keys(table, rows)
        frames = {table: _frame(table, rows) for table, rows in out.items() if rows}
        if "qualifying" in frames:
            q = frames["qualifying"]
            for col in ("q1", "q2", "q3"):
                q[f"{col}_s"] = lap_seconds(q[col]).to_numpy()
        return frames


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
    # Nullable integers stay integers (a float column would turn 5455026 ms into 5455026.0);
    # text, date and time columns stay Python objects with None, which DuckDB casts on insert.
    return frame.astype({c: d for c, d in columns.items() if d != "object"})


# --- deciding what to fetch ---------------------------------------------------------------------

def _season_pages(n_races: int) -> int:
    return max(1, math.ceil(n_races * ROWS_PER_RACE / PAGE_LIMIT))


def _fetch_race_data(
    client: JolpicaClient, batch: _Batch, season: int, race_keys: list[tuple[int, int]],
    needs_quali: set[tuple[int, int]], needs_sprint: set[tuple[int, int]], races_run: int,
    say: Callable[[str], None], force_season_level: bool = False,
) -> None:
    """Results (and qualifying, sprint results where needed) for `race_keys` of one season, by the
    cheaper of season-level paging and one request per race."""
    if not race_keys and not needs_quali:
        return
    wanted_results = set(race_keys)
    per_race = len(race_keys) + len(needs_quali) + len(needs_sprint)
    # Season-level endpoints page over every race run so far; sprints are about a third of them.
    season_level = (
        (1 if race_keys else 0) * _season_pages(races_run)
        + (1 if needs_quali else 0) * _season_pages(races_run)
        + (1 if needs_sprint else 0) * _season_pages(max(1, races_run // 3))
    )
    if force_season_level or season_level < per_race:
        say(f"{season}: fetching results season-wide ({len(race_keys)} races missing)")
        if race_keys:
            batch.add_rows("results", client.results(season), lambda k: k in wanted_results)
        if needs_quali:
            batch.add_rows("qualifying", client.qualifying(season), lambda k: k in needs_quali)
        if needs_sprint:
            batch.add_rows("sprint_results", client.sprint(season), lambda k: k in needs_sprint)
        return
    for key in sorted(set(race_keys) | needs_quali | needs_sprint):
        say(f"{key[0]} R{key[1]}: fetching " + ", ".join(
            kind for kind, needed in (("results", key in wanted_results), ("qualifying", key in needs_quali),
                                      ("sprint", key in needs_sprint)) if needed))
        if key in wanted_results:
            batch.add_rows("results", client.results(*key), lambda k, key=key: k == key)
        if key in needs_quali:
            batch.add_rows("qualifying", client.qualifying(*key), lambda k, key=key: k == key)
        if key in needs_sprint:
            batch.add_rows("sprint_results", client.sprint(*key), lambda k, key=key: k == key)


# Tables keyed by race, for deleting a round that has no results (so "results" itself is never
# touched), and the rows a round can have before it is run, dropped when its event changes.
_RACE_TABLES = [t for t in SOURCE_TABLES if "round" in PRIMARY_KEYS[t] and t != "results"]
_PRE_RACE_TABLES = ["qualifying", "sprint_results", "weather_forecast"]


def _needed(
    listed: list[dict], today: dt.date, known: _Known, stale: set[tuple[int, int]],
) -> tuple[list[tuple[int, int]], set[tuple[int, int]], set[tuple[int, int]], int]:
    """From one season's schedule: races run but without results; races needing qualifying (run
    without results, or still to run with qualifying done, so the app can switch to
    post-qualifying mode); sprint weekends run without sprint results; and how many races ran."""
    # Pre-race rows stored under a round whose event has since changed belong to the old event.
    has_quali = known.with_qualifying - stale
    has_sprint = known.with_sprint - stale
    missing, needs_quali, needs_sprint, n_run = [], set(), set(), 0
    for race in listed:
        key = (race["season"], race["round"])
        ran = race["date"] <= today
        n_run += ran
        if key in known.with_results:
            continue
        if ran:
            missing.append(key)
            if race["sprint_date"] is not None and key not in has_sprint:
                needs_sprint.add(key)
        qualified = ran or (race["quali_date"] is not None and race["quali_date"] <= today)
        if qualified and key not in has_quali:
            needs_quali.add(key)
    return missing, needs_quali, needs_sprint, n_run


def _summary(run: RunResult, notes: list[str]) -> str:
    added = ", ".join(f"{t} +{n}" for t, n in run.rows_added.items() if n) or "no new rows"
    return "; ".join([added, *notes])


def import_new_races(store: Store, client: JolpicaClient, today: dt.date, progress: Progress = None) -> RunResult:
    """Bring the store up to date with the API: the schedule of every season from the last one
    with results to today's, results (qualifying, sprint results) of every race run since, and
    qualifying of a race whose qualifying is done but whose race is not. Rounds without results
    that the schedule no longer lists are deleted; a round with results never is. One transaction."""
    say = progress or (lambda _m: None)
    with ingestion_run(store, "jolpica") as run:
        known = _Known.read(store)
        last = store.last_race_with_results()
        first_season = last.season if last else today.year
        seasons = list(range(first_season, max(first_season, today.year) + 1))
        batch = _Batch(known)
        notes: list[str] = []

        for season in seasons:
            say(f"{season}: fetching the schedule")
            batch.add_schedule(season, client.schedule(season))

        missing_seasons = {s for s in seasons if s not in known.seasons}
        if missing_seasons:
            batch.add_seasons(client.seasons(), missing_seasons)
            for s in missing_seasons - set(batch.seasons):
                batch.seasons[s] = {"season": s, "url": None}

        to_delete, stale = _schedule_changes(known, batch, seasons, notes)

        for season in seasons:
            listed = [batch.races[(season, r)] for r in sorted(batch.schedule_keys.get(season, ()))]
            missing, needs_quali, needs_sprint, n_run = _needed(listed, today, known, stale)
            _fetch_race_data(client, batch, season, missing, needs_quali, needs_sprint, n_run, say)

        frames = batch.frames()
        say("writing to the store")
        with run.transaction() as cur:
            for key in sorted(to_delete | stale):
                tables = _RACE_TABLES if key in to_delete else _PRE_RACE_TABLES
                for table in tables:
                    cur.execute(f"DELETE FROM {table} WHERE season = ? AND round = ?", list(key))
            run.add(Store.upsert(cur, frames))
        run.message = _summary(run, notes)
        say(f"done: {run.message} ({client.requests_made} requests)")
    return run


def _schedule_changes(
    known: _Known, batch: _Batch, seasons: list[int], notes: list[str],
) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Rounds to delete (the schedule dropped them and they have no results) and rounds whose
    event changed (another circuit under the same round number) so their pre-race rows are stale."""
    to_delete: set[tuple[int, int]] = set()
    stale: set[tuple[int, int]] = set()
    for season in seasons:
        listed = batch.schedule_keys.get(season, set())
        stored = {k for k in known.races if k[0] == season}
        if not listed and stored:
            # An empty schedule for a season the store knows is an API hiccup, not a cancelled season.
            log.warning("Jolpica lists no races for %s; keeping the stored calendar", season)
            notes.append(f"the API lists no races for {season}; calendar kept")
            continue
        for key in sorted(stored):
            if key[1] not in listed and key not in known.with_results:
                to_delete.add(key)
                notes.append(f"deleted {key[0]} R{key[1]} (no longer in the schedule)")
    for key, row in batch.races.items():
        if key not in known.races:
            continue
        stored_circuit = known.races[key]
        if stored_circuit == row["circuit_ref"]:
            continue
        if key in known.with_results:
            raise SourceError(
                f"{key[0]} R{key[1]}: the API schedule puts {row['circuit_ref']!r} at this round, but the store "
                f"has results for it at {stored_circuit!r}; refusing to rewrite a race that was run"
            )
        stale.add(key)
    return to_delete, stale


def bootstrap_from_api(
    store: Store, client: JolpicaClient, today: dt.date, first_season: int = 2014, progress: Progress = None,
) -> RunResult:
    """Fill an empty store from the API alone, season by season with season-level paged endpoints
    (about 15 requests a season, well within the hourly allowance). One transaction."""
    if not store.is_empty():
        raise IngestError(f"{store.path}: the store already holds races; use import_new_races to update it")
    say = progress or (lambda _m: None)
    with ingestion_run(store, "jolpica-bootstrap") as run:
        known = _Known.read(store)
        batch = _Batch(known)
        seasons = list(range(first_season, today.year + 1))
        batch.add_seasons(client.seasons(), set(seasons))
        for season in seasons:
            say(f"{season}: fetching the schedule")
            batch.add_schedule(season, client.schedule(season))
            listed = [batch.races[(season, r)] for r in sorted(batch.schedule_keys[season])]
            run_races = [(r["season"], r["round"]) for r in listed if r["date"] <= today]
            quali = {(r["season"], r["round"]) for r in listed
                     if r["date"] <= today or (r["quali_date"] is not None and r["quali_date"] <= today)}
            sprint = {(r["season"], r["round"]) for r in listed if r["date"] <= today and r["sprint_date"] is not None}
            _fetch_race_data(client, batch, season, run_races, quali, sprint, len(run_races), say,
                             force_season_level=True)
        for s in set(seasons) - set(batch.seasons):
            batch.seasons[s] = {"season": s, "url": None}
        frames = batch.frames()
        say("writing to the store")
        with run.transaction() as cur:
            run.add(Store.upsert(cur, frames))
        say(f"done ({client.requests_made} requests)")
    return run
