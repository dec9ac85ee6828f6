"""Local fake APIs for the ingest tests: a real HTTP server on 127.0.0.1 (ephemeral port, own thread)
that speaks the sources' JSON, so clients are tested over real sockets with no mocks.

- `FakeApi`: routes paths to canned `Reply`s or handlers, records every request with its arrival
  time, and can misbehave on purpose (status codes, Retry-After, delays, cut-short bodies, a body
  or the headers themselves trickling in).
- `FakeJolpica`: an Ergast-compatible API over fixture files, paging with limit/offset the way
  Jolpica does (rows counted in the innermost list, so a race can straddle two pages).
- Store helpers shared by the ingest tests: a small hand-built store and a content fingerprint.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

import pandas as pd

from f1core.schema import SOURCE_TABLES
from f1core.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jolpica"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (to make the client time out)
    truncate_to: int | None = None  # announce the full length, send only this many bytes, hang up
    trickle_s: float = 0.0  # send the body 16 bytes at a time with this pause between pieces
    trickle_headers_s: float = 0.0  # send the status line and headers one byte at a time, this pause apart

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    at: float  # time.monotonic() when the request arrived
    header_bytes: int = 0  # how long the status line and headers of the answer were
    sent: int = 0  # bytes of them (headers first, then the body) the client took before hanging up
    answered: threading.Event = field(default_factory=threading.Event)  # set when the handler is done
    host: str = ""  # the Host header the client sent


Handler = Callable[[Seen], Reply]


class FakeApi:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._routes: dict[str, list[Reply | Handler]] = {}
        self._prefixes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        api = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else small writes wait ~40 ms for delayed ACKs

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                seen = Seen(parts.path, dict(parse_qsl(parts.query)), time.monotonic(),
                            host=self.headers.get("Host", ""))
                with api._lock:
                    api.seen.append(seen)
                reply = api._reply(seen)
                if reply.delay_s and api._closing.wait(reply.delay_s):
                    return
                payload = reply.payload()
                try:
                    if reply.trickle_headers_s:
                        self._trickle_headers(seen, reply, payload)
                        return
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    if reply.truncate_to is not None:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    if reply.truncate_to is not None:
                        self.wfile.write(payload[: reply.truncate_to])
                        self.wfile.flush()
                        self.close_connection = True
                    elif reply.trickle_s:
                        for i in range(0, len(payload), 16):
                            self.wfile.write(payload[i: i + 16])
                            self.wfile.flush()
                            if api._closing.wait(reply.trickle_s):
                                return
                    else:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to tell it
                finally:
                    seen.answered.set()

            def _trickle_headers(self, seen: Seen, reply: Reply, payload: bytes) -> None:
                head = (f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}\r\n"
                        + "".join(f"{k}: {v}\r\n" for k, v in
                                  {"Content-Type": "application/json", **reply.headers,
                                   "Content-Length": str(len(payload))}.items())
                        + "\r\n").encode()
                seen.header_bytes = len(head)
                self.close_connection = True
                for i in range(len(head)):
                    self.wfile.write(head[i: i + 1])
                    self.wfile.flush()
                    seen.sent += 1
                    if api._closing.wait(reply.trickle_headers_s):
                        return
                self.wfile.write(payload)
                self.wfile.flush()
                seen.sent += len(payload)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda *a: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, path: str, *replies: Reply | Handler) -> None:
        """Answer `path` with `replies` in turn, each a Reply or a handler; the last one repeats."""
        self._routes[path] = list(replies)

    def route_prefix(self, prefix: str, handler: Handler) -> None:
        self._prefixes[prefix] = handler

    def paths(self) -> list[str]:
        with self._lock:
            return [s.path for s in self.seen]

    def _reply(self, seen: Seen) -> Reply:
        with self._lock:
            route = self._routes.get(seen.path)
            if isinstance(route, list):
                route = route.pop(0) if len(route) > 1 else route[0]
        if isinstance(route, Reply):
            return route
        if route is not None:
            return route(seen)
        for prefix in sorted(self._prefixes, key=len, reverse=True):
            if seen.path.startswith(prefix):
                return self._prefixes[prefix](seen)
        return Reply(404, f"no route for {seen.path}")

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeApi":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --- Jolpica ------------------------------------------------------------------------------------

_LISTS = {"results": "Results", "qualifying": "QualifyingResults", "sprint": "SprintResults"}


class FakeJolpica:
    """Ergast-style endpoints over fixture data:
    `/{season}.json`, `/{season}/{results|qualifying|sprint}.json`, `/{season}/{round}/....json`,
    `/seasons.json`. Data lives in `schedule[season]` (list of Race objects) and
    `tables[kind][season]` (Race objects holding their rows), which tests may edit.
    `max_limit` caps the page size like the real API does (it caps at 100)."""

    PREFIX = "/ergast/f1"

    def __init__(self, api: FakeApi, *fixture_files: str | Path, max_limit: int = 100):
        self.api = api
        self.max_limit = max_limit
        self.schedule: dict[int, list[dict]] = {}
        self.tables: dict[str, dict[int, list[dict]]] = {k: {} for k in _LISTS}
        self.seasons: list[dict] = []
        for f in fixture_files:
            self.load(f)
        api.route_prefix(self.PREFIX + "/", self.handle)

    @property
    def base_url(self) -> str:
        return self.api.base_url + self.PREFIX

    def load(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_absolute():
            path = FIXTURES / path
        mr = json.loads(path.read_text())["MRData"]
        if "SeasonTable" in mr:
            self.seasons = mr["SeasonTable"]["Seasons"]
            return
        for race in mr["RaceTable"]["Races"]:
            season = int(race["season"])
            kind = next((k for k, key in _LISTS.items() if key in race), None)
            if kind is None:
                races = self.schedule.setdefault(season, [])
                races[:] = [r for r in races if r["round"] != race["round"]] + [race]
                races.sort(key=lambda r: int(r["round"]))
            else:
                races = self.tables[kind].setdefault(season, [])
                races[:] = [r for r in races if r["round"] != race["round"]] + [race]
                races.sort(key=lambda r: int(r["round"]))

    def race(self, kind: str, season: int, round_: int) -> dict:
        return next(r for r in self.tables[kind][season] if int(r["round"]) == round_)

    def handle(self, seen: Seen) -> Reply:
        """The honest answer to a request; tests wrap it to break one page on purpose."""
        path = seen.path[len(self.PREFIX) + 1:]
        limit = min(int(seen.params.get("limit", 30)), self.max_limit)
        offset = int(seen.params.get("offset", 0))
        if path == "seasons.json":
            return self._page(path, "SeasonTable", {}, "Seasons", self.seasons, None, limit, offset)
        m = re.fullmatch(r"(\d{4})(?:/(\d+))?(?:/(results|qualifying|sprint))?\.json", path)
        if not m:
            return Reply(404, {"detail": "Not found."})
        season, round_, kind = int(m[1]), m[2], m[3]
        table = {"season": str(season)} | ({"round": round_} if round_ else {})
        if kind is None:
            races = [r for r in self.schedule.get(season, []) if round_ is None or r["round"] == round_]
            return self._page(path, "RaceTable", table, "Races", races, None, limit, offset)
        races = [r for r in self.tables[kind].get(season, []) if round_ is None or r["round"] == round_]
        return self._page(path, "RaceTable", table, "Races", races, _LISTS[kind], limit, offset)

    def _page(self, path: str, table: str, head: dict, items_key: str, items: list[dict],
              rows_key: str | None, limit: int, offset: int) -> Reply:
        if rows_key is None:
            total, page = len(items), copy.deepcopy(items[offset: offset + limit])
        else:
            # Ergast pages over the rows of all races; each race on a page carries only its rows
            # that fall inside the window.
            flat = [(i, row) for i, race in enumerate(items) for row in race[rows_key]]
            total = len(flat)
            page = []
            for i, row in flat[offset: offset + limit]:
                if not page or page[-1][0] != i:
                    race = {k: v for k, v in items[i].items() if k != rows_key}
                    page.append((i, race | {rows_key: []}))
                page[-1][1][rows_key].append(copy.deepcopy(row))
            page = [race for _, race in page]
        body = {"MRData": {
            "xmlns": "", "series": "f1", "url": f"https://api.jolpi.ca/ergast/f1/{path}",
            "limit": str(limit), "offset": str(offset), "total": str(total),
            table: head | {items_key: page},
        }}
        return Reply(200, body)


# --- stores for the tests -----------------------------------------------------------------------

def store_fingerprint(store: Store) -> dict[str, tuple[int, int]]:
    """(row count, order-independent content hash) of every source table."""
    cur = store.cursor()
    try:
        return {
            t: tuple(cur.execute(f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {t} t").fetchone())
            for t in SOURCE_TABLES
        }
    finally:
        cur.close()


def last_run(store: Store) -> dict:
    frame = store.read("SELECT * FROM ingestion_runs ORDER BY run_id DESC LIMIT 1")
    return frame.iloc[0].to_dict()


def _d(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def small_store(path: Path) -> Store:
    """A store holding the start of 2025, built by hand: six circuits, five drivers (no Antonelli,
    so the API has to introduce him), four constructors, rounds 1-6 and the results and
    qualifying of round 1 only (top five of the field, as in the fixtures)."""
    store = Store(path)
    circuits = pd.DataFrame([
        ("albert_park", "Albert Park Grand Prix Circuit", "Melbourne", "Australia", -37.8497, 144.968, 10.0),
        ("shanghai", "Shanghai International Circuit", "Shanghai", "China", 31.3389, 121.22, 5.0),
        ("suzuka", "Suzuka Circuit", "Suzuka", "Japan", 34.8431, 136.541, 45.0),
        ("bahrain", "Bahrain International Circuit", "Sakhir", "Bahrain", 26.0325, 50.5106, 7.0),
        ("jeddah", "Jeddah Corniche Circuit", "Jeddah", "Saudi Arabia", 21.6319, 39.1044, 15.0),
        ("miami", "Miami International Autodrome", "Miami", "USA", 25.9581, -80.2389, 0.0),
    ], columns=["circuit_ref", "name", "location", "country", "lat", "lng", "alt"])
    drivers = pd.DataFrame([
        ("max_verstappen", 33, "VER", "Max", "Verstappen", dt.date(1997, 9, 30), "Dutch"),
        ("norris", 4, "NOR", "Lando", "Norris", dt.date(1999, 11, 13), "British"),
        ("piastri", 81, "PIA", "Oscar", "Piastri", dt.date(2001, 4, 6), "Australian"),
        ("leclerc", 16, "LEC", "Charles", "Leclerc", dt.date(1997, 10, 16), "Monegasque"),
        ("russell", 63, "RUS", "George", "Russell", dt.date(1998, 2, 15), "British"),
    ], columns=["driver_ref", "number", "code", "forename", "surname", "dob", "nationality"])
    constructors = pd.DataFrame([
        ("red_bull", "Red Bull", "Austrian"), ("mclaren", "McLaren", "British"),
        ("ferrari", "Ferrari", "Italian"), ("mercedes", "Mercedes", "German"),
    ], columns=["constructor_ref", "name", "nationality"])
    races = pd.DataFrame([
        (2025, 1, "albert_park", "Australian Grand Prix", _d("2025-03-16"), "04:00:00", _d("2025-03-15"), None),
        (2025, 2, "shanghai", "Chinese Grand Prix", _d("2025-03-23"), "07:00:00", _d("2025-03-22"), _d("2025-03-22")),
        (2025, 3, "suzuka", "Japanese Grand Prix", _d("2025-04-06"), "05:00:00", _d("2025-04-05"), None),
        (2025, 4, "bahrain", "Bahrain Grand Prix", _d("2025-04-13"), "15:00:00", _d("2025-04-12"), None),
        (2025, 5, "jeddah", "Saudi Arabian Grand Prix", _d("2025-04-20"), "17:00:00", _d("2025-04-19"), None),
        (2025, 6, "miami", "Miami Grand Prix", _d("2025-05-04"), "20:00:00", _d("2025-05-03"), _d("2025-05-03")),
    ], columns=["season", "round", "circuit_ref", "name", "date", "time", "quali_date", "sprint_date"])
    results = pd.DataFrame([
        (2025, 1, "norris", "mclaren", 4, 1, 1, "1", 1, 25.0, 57, "Finished"),
        (2025, 1, "max_verstappen", "red_bull", 1, 3, 2, "2", 2, 18.0, 57, "Finished"),
        (2025, 1, "russell", "mercedes", 63, 4, 3, "3", 3, 15.0, 57, "Finished"),
        (2025, 1, "leclerc", "ferrari", 16, 7, 8, "8", 8, 4.0, 57, "Finished"),
        (2025, 1, "piastri", "mclaren", 81, 2, 9, "9", 9, 2.0, 57, "Finished"),
    ], columns=["season", "round", "driver_ref", "constructor_ref", "number", "grid", "position",
                "position_text", "position_order", "points", "laps", "status"])
    qualifying = pd.DataFrame([
        (2025, 1, "norris", "mclaren", 4, 1, "1:15.096", 75.096),
        (2025, 1, "piastri", "mclaren", 81, 2, "1:15.180", 75.180),
        (2025, 1, "max_verstappen", "red_bull", 33, 3, "1:15.481", 75.481),
        (2025, 1, "russell", "mercedes", 63, 4, "1:15.546", 75.546),
        (2025, 1, "leclerc", "ferrari", 16, 7, "1:15.755", 75.755),
    ], columns=["season", "round", "driver_ref", "constructor_ref", "number", "position", "q3", "q3_s"])
    seasons = pd.DataFrame({"season": [2025], "url": ["https://en.wikipedia.org/wiki/2025_Formula_One_World_Championship"]})
    with store.transaction() as cur:
        Store.upsert(cur, {
            "seasons": seasons, "circuits": circuits, "drivers": drivers, "constructors": constructors,
            "races": races, "results": results, "qualifying": qualifying,
        })
    return store


# --- Open-Meteo ----------------------------------------------------------------------------------

HOURLY_UNITS = {"time": "iso8601", "temperature_2m": "°C", "precipitation_probability": "%",
                "precipitation": "mm", "relative_humidity_2m": "%", "wind_speed_10m": "km/h"}


def hourly_values(hour: int, lat: float) -> dict[str, float]:
    """What FakeOpenMeteo forecasts for an hour: distinct per hour and per place, so a test can
    tell which hour and circuit a stored row came from."""
    return {
        "temperature_2m": round(15 + hour * 0.5 + lat / 10, 1),
        "precipitation_probability": hour * 4,
        "precipitation": round(hour * 0.1, 1),
        "relative_humidity_2m": 40 + hour,
        "wind_speed_10m": round(8 + hour / 2, 1),
    }


class FakeOpenMeteo:
    """`/v1/forecast` answering hourly forecasts in Open-Meteo's JSON shape for start_date..end_date.
    Like the real service it answers 400 with {"error": true, "reason": ...} to bad parameters."""

    PATH = "/v1/forecast"

    def __init__(self, api: FakeApi):
        self.api = api
        api.route(self.PATH, self.handle)

    @property
    def base_url(self) -> str:
        return self.api.base_url + self.PATH

    def body(self, seen: Seen) -> dict:
        p = seen.params
        lat, lng = float(p["latitude"]), float(p["longitude"])
        start, end = dt.date.fromisoformat(p["start_date"]), dt.date.fromisoformat(p["end_date"])
        variables = p["hourly"].split(",")
        hourly: dict[str, list] = {"time": []}
        for v in variables:
            hourly[v] = []
        day = start
        while day <= end:
            for hour in range(24):
                hourly["time"].append(f"{day.isoformat()}T{hour:02d}:00")
                values = hourly_values(hour, lat)
                for v in variables:
                    hourly[v].append(values[v])
            day += dt.timedelta(days=1)
        return {
            "latitude": round(lat, 3), "longitude": round(lng, 3), "generationtime_ms": 0.04,
            "utc_offset_seconds": 0, "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 12.0,
            "hourly_units": {v: HOURLY_UNITS[v] for v in ["time", *variables]}, "hourly": hourly,
        }

    def handle(self, seen: Seen) -> Reply:
        missing = [k for k in ("latitude", "longitude", "hourly", "start_date", "end_date") if k not in seen.params]
        if missing:
            return Reply(400, {"error": True, "reason": f"Parameter {missing[0]} is required"})
        return Reply(200, self.body(seen))
