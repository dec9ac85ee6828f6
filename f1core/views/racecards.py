"""Small facts about one race for the race cards of the dashboard: where it is run, who won, and
whether a prediction made before the race called the winner. No Streamlit; the functions take
the Store first so pages can cache them per data version."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from tzfpy import get_tz

from f1core.store import Store
from f1core.views.race_review import actual_result, driver_names


@dataclass(frozen=True)
class Circuit:
    circuit_ref: str
    name: str
    location: str | None
    country: str | None
    lat: float | None
    lng: float | None

    @property
    def place(self) -> str:
        """'Montreal, Canada' (or whichever part is known)."""
        return ", ".join(p for p in (self.location, self.country) if p)

    @property
    def timezone(self) -> ZoneInfo | None:
        """The circuit's time zone, found from its coordinates (the F1 data has no zone names);
        None without coordinates or for a point no zone covers."""
        if self.lat is None or self.lng is None:
            return None
        name = get_tz(self.lng, self.lat)
        if not name:
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None

    def local_time(self, moment: dt.datetime) -> dt.datetime | None:
        """`moment` on the circuit's clocks, or None when its zone is unknown."""
        zone = self.timezone
        return moment.astimezone(zone) if zone is not None else None


def circuit(store: Store, circuit_ref: str) -> Circuit | None:
    """The circuit of a race, or None when the store does not know it."""
    row = store.read("SELECT circuit_ref, name, location, country, lat, lng FROM circuits WHERE circuit_ref = ?",
                     [circuit_ref])
    if row.empty:
        return None
    r = row.iloc[0]

    def text(value) -> str | None:
        return None if pd.isna(value) else str(value)

    def number(value) -> float | None:
        return None if pd.isna(value) else float(value)

    return Circuit(str(r.circuit_ref), text(r["name"]) or str(r.circuit_ref), text(r.location), text(r.country),
                   number(r.lat), number(r.lng))


def start_text(start: dt.datetime, announced: bool, circuit: Circuit | None, day_format: str = "%a %-d %b %Y") -> str:
    """When a session starts, in the circuit's own time first: 'Sat 21 Nov 2026, 22:00 local time
    (06:00 UTC Sun)'. The day is the local one, which is the day fans at the track know."""
    if not announced:
        return f"{start:{day_format}}, start time not announced yet"
    local = circuit.local_time(start) if circuit is not None else None
    if local is None:
        return f"{start:{day_format}}, {start:%H:%M} UTC"
    utc_day = "" if start.date() == local.date() else f" {start:%a}"
    return f"{local:{day_format}}, {local:%H:%M} local time ({start:%H:%M} UTC{utc_day})"


def qualifying_start(store: Store, season: int, round_: int) -> tuple[dt.datetime, bool] | None:
    """When qualifying starts (UTC) and whether its time is announced, or None when the calendar
    does not even give the day. A time-less date counts as noon UTC, like `RaceRef.start_utc`."""
    row = store.read("SELECT quali_date, quali_time FROM races WHERE season = ? AND round = ?", [season, round_])
    if row.empty or pd.isna(row.iloc[0]["quali_date"]):
        return None
    day = pd.Timestamp(row.iloc[0]["quali_date"]).date()
    at = row.iloc[0]["quali_time"]
    announced = not (at is None or pd.isna(at))
    return dt.datetime.combine(day, at if announced else dt.time(12, 0), tzinfo=dt.timezone.utc), announced


def podium(store: Store, season: int, round_: int) -> pd.DataFrame:
    """The top three of a race with results: position, driver_ref, code, driver_name,
    constructor_ref, team_name, grid (empty when the race has no results)."""
    top = actual_result(store, season, round_)
    top = top[top["position_order"] <= 3].rename(columns={"position_order": "position"})
    return top[["position", "driver_ref", "code", "driver_name", "constructor_ref", "team_name", "grid"]]


@dataclass(frozen=True)
class RaceCall:
    """How a prediction made before a race fared against its result."""
    winner_code: str
    winner_name: str
    winner_team: str
    winner_constructor_ref: str
    winner_grid: int | None  # 1 = pole, 0 = pit lane, None = not recorded
    favourite_code: str
    favourite_name: str
    favourite_p_win: float
    winner_p_win: float
    winner_pick: int  # the winner's place in the prediction's order of win chances (1 = the favourite)
    podium_hits: int  # actual podium finishers among the three most likely podium finishers

    @property
    def called(self) -> bool:
        return self.winner_pick == 1


def race_call(store: Store, season: int, round_: int, predicted: pd.DataFrame) -> RaceCall | None:
    """Compare `predicted` (one row per driver with driver_ref, p_win, p_podium — a frozen
    prediction or a backtest prediction of the race) with the race's result. None when the race
    has no results or the prediction does not cover its winner."""
    top = podium(store, season, round_)
    if top.empty or predicted.empty:
        return None
    winner = top.iloc[0]
    order = predicted.sort_values(["p_win", "driver_ref"], ascending=[False, True]).reset_index(drop=True)
    picks = order.index[order["driver_ref"] == winner["driver_ref"]]
    if not len(picks):
        return None
    fav_ref = str(order.iloc[0]["driver_ref"])
    favourite = driver_names(store, [fav_ref]).iloc[0]
    likely_podium = set(predicted.nlargest(3, "p_podium")["driver_ref"])
    return RaceCall(
        winner_code=str(winner["code"]), winner_name=str(winner["driver_name"]), winner_team=str(winner["team_name"]),
        winner_constructor_ref=str(winner["constructor_ref"]),
        winner_grid=None if pd.isna(winner["grid"]) else int(winner["grid"]),
        favourite_code=str(favourite["code"]), favourite_name=str(favourite["driver_name"]), favourite_p_win=float(order.iloc[0]["p_win"]),
        winner_p_win=float(order.loc[picks[0], "p_win"]), winner_pick=int(picks[0]) + 1,
        podium_hits=len(likely_podium & set(top["driver_ref"])),
    )
