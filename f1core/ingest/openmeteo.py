"""Weather forecasts for upcoming races from Open-Meteo, at the circuit and the hour of the start.

One request per race (the race day, hourly, in UTC), all checked before the single write. The
latest forecast replaces the previous one for the same race, so `weather_forecast` always holds
what was known at the last refresh.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from f1core.config import DEFAULT_OPEN_METEO_URL
from f1core.ingest.http import DEFAULT_DEADLINE_S, DEFAULT_TIMEOUT, ApiClient, SourceError
from f1core.ingest.runs import RunResult, ingestion_run
from f1core.store import Store

log = logging.getLogger(__name__)

SOURCE = "open-meteo"
HOURLY = ["temperature_2m", "precipitation_probability", "precipitation", "relative_humidity_2m", "wind_speed_10m"]
# Open-Meteo forecasts 16 days counting today, so the last day it can answer is today + 15.
FORECAST_DAYS = 16
# The units asked for (Open-Meteo's defaults); a response that says it used others is refused.
UNITS = {"temperature_2m": "°C", "precipitation_probability": "%", "precipitation": "mm",
         "relative_humidity_2m": "%", "wind_speed_10m": "km/h"}


@dataclass(frozen=True)
class HourlyForecast:
    valid_at: dt.datetime  # naive UTC, on the hour
    air_temp: float | None
    precipitation_probability: float | None  # 0..1
    precipitation_mm: float | None
    humidity: float | None  # percent
    wind_speed: float | None  # km/h, Open-Meteo's default unit


class OpenMeteoClient(ApiClient):
    def __init__(
        self,
        base_url: str = DEFAULT_OPEN_METEO_URL,
        session=None,
        rate_per_s: float | None = 5.0,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        *,
        retries: int = 3,
        backoff_factor: float = 0.5,
        deadline_s: float = DEFAULT_DEADLINE_S,
    ):
        super().__init__(base_url, session, rate_per_s=rate_per_s, timeout=timeout, retries=retries,
                         backoff_factor=backoff_factor, deadline_s=deadline_s)

    def forecast_at(self, lat: float, lng: float, at: dt.datetime) -> HourlyForecast:
        """The forecast for the UTC hour containing `at` (naive or aware) at (lat, lng)."""
        at = _naive_utc(at).replace(minute=0, second=0, microsecond=0)
        params = {
            "latitude": f"{lat:.4f}", "longitude": f"{lng:.4f}",
            "hourly": ",".join(HOURLY), "timezone": "UTC",
            "start_date": at.date().isoformat(), "end_date": at.date().isoformat(),
        }
        data = self.http.get_json(self.base_url, params)
        where = _where(self.base_url, params)
        return _pick_hour(data, at, where)


def _where(url: str, params: dict[str, str]) -> str:
    return url + "?" + "&".join(f"{k}={v}" for k, v in params.items())


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def _pick_hour(data: Any, at: dt.datetime, where: str) -> HourlyForecast:
    if not isinstance(data, dict):
        raise SourceError(f"{where}: the response is not a JSON object")
    if data.get("error"):
        raise SourceError(f"{where}: Open-Meteo says {data.get('reason')!r}")
    if data.get("utc_offset_seconds", 0) not in (0, None):
        raise SourceError(f"{where}: times are not in UTC (utc_offset_seconds={data['utc_offset_seconds']})")
    hourly = data.get("hourly")
    if not isinstance(hourly, dict):
        raise SourceError(f"{where}: missing 'hourly'")
    arrays: dict[str, list] = {}
    for key in ["time", *HOURLY]:
        values = hourly.get(key)
        if not isinstance(values, list):
            raise SourceError(f"{where}: missing hourly.{key}")
        arrays[key] = values
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise SourceError(f"{where}: hourly arrays differ in length {lengths}")
    wanted = at.strftime("%Y-%m-%dT%H:%M")
    try:
        i = arrays["time"].index(wanted)
    except ValueError:
        raise SourceError(f"{where}: hourly.time has no entry for {wanted} (the race start)") from None

    def number(key: str, low: float, high: float) -> float | None:
        value = arrays[key][i]
        if value is None:
            return None  # Open-Meteo sends null where a model has no value; that is not an error
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SourceError(f"{where}: hourly.{key} at {wanted} is {value!r}, expected a number")
        if not low <= value <= high:
            raise SourceError(f"{where}: hourly.{key} at {wanted} is {value}, outside {low}..{high}")
        return float(value)

    units = data.get("hourly_units") or {}
    for key, unit in UNITS.items():  # a value in other units would be stored as if in these
        if key in units and units[key] != unit:
            raise SourceError(f"{where}: hourly_units.{key} is {units[key]!r}, expected {unit!r}")
    probability = number("precipitation_probability", 0, 100)
    # Open-Meteo gives percent; the store keeps 0..1 so the models need not know the source.
    if probability is not None:
        probability /= 100.0
    return HourlyForecast(
        valid_at=at,
        air_temp=number("temperature_2m", -60, 70),
        precipitation_probability=probability,
        precipitation_mm=number("precipitation", 0, 500),
        humidity=number("relative_humidity_2m", 0, 100),
        wind_speed=number("wind_speed_10m", 0, 500),
    )


def upcoming_races(store: Store, now: dt.datetime) -> pd.DataFrame:
    """Races without results whose start is between now and the end of Open-Meteo's horizon,
    with their circuit's coordinates."""
    now = _naive_utc(now)
    last_day = now.date() + dt.timedelta(days=FORECAST_DAYS - 1)
    frame = store.read(
        """
        SELECT r.season, r.round, r.name, r.date, r.time, c.lat, c.lng, c.circuit_ref
        FROM races r LEFT JOIN circuits c USING (circuit_ref)
        WHERE r.date BETWEEN ? AND ?
          AND NOT EXISTS (SELECT 1 FROM results x WHERE x.season = r.season AND x.round = r.round)
        ORDER BY r.date, r.season, r.round
        """,
        [now.date(), last_day],
    )
    if frame.empty:
        return frame
    starts = [_race_start(d, t) for d, t in zip(frame["date"], frame["time"])]
    frame["start"] = starts
    return frame[[s >= now for s in starts]].reset_index(drop=True)


def _race_start(date: Any, time: Any) -> dt.datetime:
    day = pd.Timestamp(date).date()
    if time is None or (not isinstance(time, dt.time) and pd.isna(time)):
        # Store races without a time are rare (old seasons); midday is Ergast's own stand-in.
        return dt.datetime.combine(day, dt.time(12, 0))
    if not isinstance(time, dt.time):
        time = dt.time.fromisoformat(str(time))
    return dt.datetime.combine(day, time)


def import_forecasts(
    store: Store, client: OpenMeteoClient, now: dt.datetime, progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Fetch and store the forecast at race start for every race in the next 16 days. Counts every
    forecast written as a row added, replaced or not: a newer forecast is new information."""
    say = progress or (lambda _m: None)
    fetched_at = _naive_utc(now).replace(microsecond=0)
    with ingestion_run(store, SOURCE) as run:
        races = upcoming_races(store, now)
        rows: list[dict] = []
        skipped: list[str] = []
        for race in races.itertuples(index=False):
            label = f"{race.season} R{race.round} {race.name}"
            if pd.isna(race.lat) or pd.isna(race.lng):
                skipped.append(f"{label} (circuit {race.circuit_ref} has no coordinates)")
                continue
            say(f"forecast for {label}")
            f = client.forecast_at(float(race.lat), float(race.lng), race.start)
            rows.append({
                "season": int(race.season), "round": int(race.round), "source": SOURCE,
                "fetched_at": fetched_at, "valid_at": f.valid_at, "air_temp": f.air_temp,
                "precipitation_probability": f.precipitation_probability, "precipitation_mm": f.precipitation_mm,
                "humidity": f.humidity, "wind_speed": f.wind_speed,
            })
        if rows:
            frame = pd.DataFrame(rows)
            for col in ("air_temp", "precipitation_probability", "precipitation_mm", "humidity", "wind_speed"):
                frame[col] = frame[col].astype("float64")
            with run.transaction() as cur:
                Store.upsert(cur, {"weather_forecast": frame})
                run.add({"weather_forecast": len(frame)})
        notes = [f"weather_forecast +{len(rows)}" if rows else "no races in the forecast window"]
        notes += [f"skipped {s}" for s in skipped]
        run.message = "; ".join(notes)
    return run
