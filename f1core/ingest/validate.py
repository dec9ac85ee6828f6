"""Checking what a JSON source sends, before anything of it is stored: each value's type and form,
then whether a race's rows can be true at all (`PLAUSIBLE`, declared as data).

Ergast sends numbers as strings; JSON numbers are accepted too. Every failure names the URL and
the item, because "invalid literal for int()" alone does not tell anyone which race broke.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from f1core.ingest.http import SourceError


def fail(url: str, where: str, message: str) -> SourceError:
    return SourceError(f"{url}: {where}: {message}")


def json_obj(d: Any, key: str, url: str, where: str, required: bool = True) -> dict | None:
    if not isinstance(d, dict):
        raise fail(url, where, "is not a JSON object")
    value = d.get(key)
    if value is None:
        if required:
            raise fail(url, where, f"missing key {key!r}")
        return None
    if not isinstance(value, dict):
        raise fail(url, where, f"{key!r} is {type(value).__name__}, expected an object")
    return value


def json_list(d: dict, key: str, url: str, where: str) -> list:
    if key not in d:
        raise fail(url, where, f"missing key {key!r}")
    value = d[key]
    if not isinstance(value, list):
        raise fail(url, where, f"{key!r} is {type(value).__name__}, expected a list")
    return value


def json_text(d: dict, key: str, url: str, where: str, required: bool = False) -> str | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise fail(url, where, f"missing key {key!r}")
        return None
    if not isinstance(value, str):
        raise fail(url, where, f"{key!r} is {value!r}, expected text")
    return value


def json_int(d: dict, key: str, url: str, where: str, required: bool = False) -> int | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise fail(url, where, f"missing key {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise fail(url, where, f"{key!r} is {value!r}, expected a whole number")
    if isinstance(value, int):
        return value
    if not re.fullmatch(r"\s*-?\d+\s*", value):
        raise fail(url, where, f"{key!r} is {value!r}, expected a whole number")
    return int(value)


def json_float(d: dict, key: str, url: str, where: str, required: bool = False) -> float | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise fail(url, where, f"missing key {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise fail(url, where, f"{key!r} is {value!r}, expected a number")
    try:
        number = float(value)
    except ValueError:
        raise fail(url, where, f"{key!r} is {value!r}, expected a number") from None
    if not math.isfinite(number):
        raise fail(url, where, f"{key!r} is {value!r}, expected a finite number")
    return number


def json_date(d: dict, key: str, url: str, where: str, required: bool = False) -> dt.date | None:
    value = json_text(d, key, url, where, required)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(url, where, f"{key!r} is {value!r}, expected a date like 2024-03-02") from None


_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-]00:?00)?$")


def json_time(d: dict, key: str, url: str, where: str) -> str | None:
    value = json_text(d, key, url, where)
    if value is None:
        return None
    m = _TIME.match(value)
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3]) > 59:
        raise fail(url, where, f"{key!r} is {value!r}, expected a UTC time like 15:00:00Z")
    return f"{m[1]}:{m[2]}:{m[3]}"


# --- what a race's rows can be --------------------------------------------------------------------
# Rules declared as data, checked on every race a response holds (kept or not, as with the value
# checks above). Rows that break them are refused, not stored: a 0.001 s pole lap shifts the next
# race's qualifying features by a quarter, and two winners make every probability wrong.

@dataclass(frozen=True)
class Bound:
    column: str
    low: float
    high: float
    what: str  # how a message calls the value
    unit: str = ""
    raw: str | None = None  # the column holding the value as the source sent it, shown beside it

    def outside(self, frame: pd.DataFrame) -> np.ndarray:
        """Where `frame` holds a value of the column outside the bounds."""
        values = pd.to_numeric(frame[self.column], errors="coerce")
        return (values.notna() & ~values.between(self.low, self.high)).fillna(False).to_numpy()

    def problem(self, frame: pd.DataFrame, i: int) -> str:
        """What is wrong with row `i` (by position) of `frame`, in words."""
        unit = f" {self.unit}" if self.unit else ""
        value = f"{float(frame[self.column].iloc[i]):g}{unit}"
        if self.raw is not None:
            value = f"{frame[self.raw].iloc[i]!r} ({value})"
        return f"{self.what} {value} cannot be true (expected {self.low:g} to {self.high:g}{unit})"


@dataclass(frozen=True)
class Once:
    """A column whose value a race holds at most once (from season `since` on)."""
    column: str
    what: str
    since: int = 0


@dataclass(frozen=True)
class RaceRules:
    once: tuple[Once, ...] = ()
    bounds: tuple[Bound, ...] = ()


LAP_S = (40.0, 300.0)  # the shortest lap ever run is about 55 s (Monaco, Bahrain outer), the longest about 2 min

# Until 1978 a driver could take over a team mate's car and be classified twice, and until 1964
# two drivers who shared a car shared its place, so neither is unique before 1979.
SHARED_CARS_UNTIL = 1978
_ONCE_DRIVER = Once("driver_ref", "driver", since=SHARED_CARS_UNTIL + 1)
_ONCE_PLACE = Once("position_order", "classification order", since=SHARED_CARS_UNTIL + 1)
_RESULT_BOUNDS = (
    Bound("position_order", 1, 50, "classification order"),
    Bound("grid", 0, 50, "grid slot"),  # 0 is a pit-lane start
    Bound("points", 0, 50, "points"),  # 50: a double-points finale's win
    Bound("laps", 0, 200, "laps"),  # 200: the Indianapolis 500 of the 1950s
)

LAP_BOUNDS = tuple(Bound(f"{q}_s", *LAP_S, f"{q.upper()} lap", "s", raw=q) for q in ("q1", "q2", "q3"))

# Qualifying positions are not declared unique: Jolpica's own data has ties (2025 R18 and 2026 R4
# in the snapshot), and refusing those would stop every refresh over a cosmetic fault.
PLAUSIBLE: dict[str, RaceRules] = {
    "results": RaceRules(once=(_ONCE_DRIVER, _ONCE_PLACE), bounds=_RESULT_BOUNDS),
    "sprint_results": RaceRules(once=(_ONCE_DRIVER, _ONCE_PLACE), bounds=_RESULT_BOUNDS),
    "qualifying": RaceRules(once=(_ONCE_DRIVER,), bounds=(
        Bound("position", 1, 50, "qualifying position"), *LAP_BOUNDS,
    )),
    # Each source's weather of a race, as the weather CSVs and FastF1 give it. The widest values ever
    # met at a Grand Prix are far inside these (Mexico City's air pressure is about 780 hPa); a
    # temperature in Kelvin or Fahrenheit, or a humidity in per mille, falls outside.
    "weather_observed": RaceRules(once=(Once("source", "weather source"),), bounds=(
        # the highest and lowest first: Open-Meteo's mean air temperature is made of them
        *(Bound(c, -30, 60, what, "°C") for c, what in (
            ("temp_max", "highest air temperature"), ("temp_min", "lowest air temperature"),
            ("air_temp", "air temperature"))),
        Bound("track_temp", -30, 80, "track temperature", "°C"),
        Bound("humidity", 0, 100, "humidity", "%"),
        Bound("pressure", 700, 1100, "air pressure", "hPa"),
        Bound("wind_speed", 0, 200, "wind speed"),
        Bound("rainfall_rate", 0, 1, "share of the samples with rain"),
        Bound("precipitation_mm", 0, 500, "precipitation", "mm"),
        Bound("precipitation_hours", 0, 24, "hours with precipitation", "h"),
    )),
}


@dataclass(frozen=True)
class Origin:
    """Where a row came from, as messages name it: the URL (or file and line), then the item."""
    url: str
    where: str


def check_plausible(table: str, frame: pd.DataFrame, origins: Sequence[Origin],
                    refusing: str = "the response") -> None:
    """Refuse the rows of `frame` (one per origin, in order) that break `PLAUSIBLE[table]`, naming
    the URL (or file), the race and the driver (or line) of each offending row."""
    rules = PLAUSIBLE.get(table)
    if rules is None or frame.empty:
        return
    frame = frame.reset_index(drop=True)
    for bound in (b for b in rules.bounds if b.column in frame):
        bad = bound.outside(frame)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise fail(origins[i].url, origins[i].where, f"{bound.problem(frame, i)}; refusing {refusing}")
    for once in rules.once:
        present = frame[once.column].notna() & (frame["season"] >= once.since)
        dup = (frame.duplicated(subset=["season", "round", once.column], keep=False) & present).to_numpy()
        if dup.any():
            i = int(np.flatnonzero(dup)[0])
            same = (frame["season"] == frame["season"].iloc[i]) & (frame["round"] == frame["round"].iloc[i]) \
                & (frame[once.column] == frame[once.column].iloc[i])
            j = int(np.flatnonzero(same.to_numpy())[1])
            a, b = origins[i], origins[j]
            if a.url == b.url:
                second = b.where
            elif (a.url.rpartition(" line ")[0] or None) == b.url.rpartition(" line ")[0]:  # the same file
                second = f"line {b.url.rpartition(' line ')[2]}: {b.where}"
            else:
                second = f"{b.url}: {b.where}"
            raise SourceError(f"{a.url}: {a.where} and {second} have the same {once.what} "
                              f"({frame[once.column].iloc[i]}), which a race holds once; refusing {refusing}")
