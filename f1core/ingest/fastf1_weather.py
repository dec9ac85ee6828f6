"""Observed race-session weather from FastF1, for races completed since the weather CSV backfill.

FastF1 is an optional enrichment: the refresh must neither hang nor fail because of it. So each
race is loaded in a daemon worker thread under one overall deadline, every exception is caught per
race and counted as a skip reason, and when nothing can be fetched at all (offline, as on CI) the
run still ends ok with 0 rows and a message saying FastF1 is unreachable.

Rows match what `weather_csv` stores for source 'fastf1': session means of air and track
temperature, humidity, pressure and wind speed; the fraction of samples with rainfall; the air
temperature range; and wet = any rainfall sample.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Callable

import pandas as pd

from f1core.ingest.http import SourceError
from f1core.ingest.runs import RunResult, ingestion_run, utc_now
from f1core.ingest.validate import Origin, check_plausible
from f1core.names import plural
from f1core.store import RaceRef, Store

log = logging.getLogger(__name__)

SOURCE = "fastf1"
FIRST_SEASON = 2018  # FastF1 has session weather from 2018 on
MAX_RACES_PER_RUN = 3  # keeps a background refresh short; older gaps fill on later refreshes
FASTF1_LOG_LEVEL = logging.ERROR

WeatherLoader = Callable[[int, int], pd.DataFrame]
"""(season, round) -> FastF1 `session.weather_data` of that race: one row per sample with columns
AirTemp, TrackTemp, Humidity, Pressure, Rainfall (bool), WindSpeed (and Time, WindDirection)."""

# Skip reasons, as they appear in the run message.
NO_NETWORK = "no network"
TIMED_OUT = "timed out"
NO_DATA = "no weather data"
IMPLAUSIBLE = "values that cannot be true"
_UNREACHABLE = {NO_NETWORK, TIMED_OUT}

# A race FastF1 answered without usable weather is asked again after a wait that doubles with each
# such answer, from 6 hours (a session's data can take hours to appear) up to 30 days. Asked on
# every refresh, a few such races, newest first, would take every run's turns and the older races
# behind them would never be fetched. Network trouble and FastF1 errors are not answers: asked again next run.
FIRST_RETRY = dt.timedelta(hours=6)
LAST_RETRY = dt.timedelta(days=30)
_ANSWERED_WITHOUT_DATA = {NO_DATA, IMPLAUSIBLE}


def retry_wait(tries: int) -> dt.timedelta:
    return min(FIRST_RETRY * 2 ** (tries - 1), LAST_RETRY)


class NoWeatherData(Exception):
    """FastF1 answered but has no usable weather samples for the session."""


class ImplausibleWeather(Exception):
    """FastF1's session means hold a value no race day has (`validate.PLAUSIBLE`)."""


# -- aggregation -------------------------------------------------------------------------------
def _numeric(samples: pd.DataFrame, column: str) -> pd.Series | None:
    if column not in samples.columns:
        return None
    values = pd.to_numeric(samples[column], errors="coerce").dropna()
    return values if len(values) else None


def _rain_flags(samples: pd.DataFrame) -> pd.Series | None:
    if "Rainfall" not in samples.columns:
        return None
    raw = samples["Rainfall"]
    if raw.dtype == object:
        text = raw.astype("string").str.strip().str.lower()
        raw = text.map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0})
    flags = pd.to_numeric(raw, errors="coerce").dropna()
    return (flags > 0).astype(float) if len(flags) else None


def aggregate_weather(samples: pd.DataFrame | None) -> dict[str, object]:
    """Session aggregates of FastF1 weather samples, as the weather CSV holds them.
    Raises NoWeatherData when there is nothing to aggregate."""
    if samples is None or not isinstance(samples, pd.DataFrame) or samples.empty:
        raise NoWeatherData("FastF1 returned no weather samples")

    def mean(column: str) -> float | None:
        values = _numeric(samples, column)
        return None if values is None else float(values.mean())

    air = _numeric(samples, "AirTemp")
    rain = _rain_flags(samples)
    rainfall_rate = None if rain is None else float(rain.mean())
    row = {
        "air_temp": mean("AirTemp"), "track_temp": mean("TrackTemp"), "humidity": mean("Humidity"),
        "pressure": mean("Pressure"), "wind_speed": mean("WindSpeed"), "rainfall_rate": rainfall_rate,
        "temp_max": None if air is None else float(air.max()),
        "temp_min": None if air is None else float(air.min()),
        "wet": None if rainfall_rate is None else bool(rainfall_rate > 0),
    }
    if all(v is None for v in row.values()):
        raise NoWeatherData(f"FastF1 weather has none of the expected columns (got {list(samples.columns)})")
    return row


def _check_plausible(row: dict[str, object]) -> None:
    try:
        check_plausible("weather_observed", _frame([row]),
                        [Origin(f"FastF1 {row['season']} R{row['round']}", "session means")],
                        refusing="the race's weather")
    except SourceError as exc:
        raise ImplausibleWeather(str(exc)) from None


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in ["air_temp", "track_temp", "humidity", "pressure", "wind_speed", "rainfall_rate",
                   "temp_max", "temp_min"]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["wet"] = frame["wet"].astype(object)
    frame["season"] = frame["season"].astype("int64")
    frame["round"] = frame["round"].astype("int64")
    return frame


# -- which races -------------------------------------------------------------------------------
def races_needing_weather(store: Store, today: dt.date, limit: int = MAX_RACES_PER_RUN,
                          now: dt.datetime | None = None) -> list[RaceRef]:
    """Races with results, from 2018 up to `today`, without FastF1 weather yet and not waiting to be
    asked again (`retry_wait`; `now`: naive UTC, the real clock when None); newest first."""
    cur = store.cursor()
    try:
        rows = cur.execute(
            "SELECT season, round, name, circuit_ref, date, time FROM races r "
            "WHERE r.season >= ? AND r.date <= ? "
            "AND EXISTS (SELECT 1 FROM results x WHERE x.season = r.season AND x.round = r.round) "
            "AND NOT EXISTS (SELECT 1 FROM weather_observed w "
            "                WHERE w.season = r.season AND w.round = r.round AND w.source = ?) "
            "AND NOT EXISTS (SELECT 1 FROM source_misses m "
            "                WHERE m.season = r.season AND m.round = r.round AND m.source = ? AND m.retry_at > ?) "
            "ORDER BY r.date DESC, r.season DESC, r.round DESC LIMIT ?",
            [FIRST_SEASON, today, SOURCE, SOURCE, now or utc_now(), int(limit)],
        ).fetchall()
    finally:
        cur.close()
    return [RaceRef(int(s), int(r), n, c, d, t) for s, r, n, c, d, t in rows]


# -- the real FastF1 loader --------------------------------------------------------------------
def quiet_fastf1_logging(level: int = FASTF1_LOG_LEVEL) -> None:
    """FastF1 logs progress at INFO and full tracebacks at DEBUG on its own 'fastf1' logger (which
    also propagates to the root logger), and emits UserWarnings for failed requests."""
    logging.getLogger("fastf1").setLevel(level)
    try:
        import fastf1

        fastf1.set_log_level(level)  # its own console handler
    except Exception:  # pragma: no cover - older/newer FastF1 without it
        pass
    warnings.filterwarnings("ignore", module=r"fastf1(\.|$)")


def _no_interactive_sign_in() -> None:
    """FastF1 3.9 signs in to an F1 account before livetiming requests; without F1_USERNAME and
    F1_PASSWORD it *prompts on stdin* when stdin is a terminal (e.g. `streamlit run` in a shell),
    which would block the worker thread forever. Make that sign-in fail instead (FastF1 then goes
    on unauthenticated). Uses FastF1 internals, so it does nothing if they are not there."""
    try:
        from fastf1.exceptions import F1AuthError
        from fastf1.internals import f1account
    except Exception:
        return
    manager = getattr(f1account, "token_manager", None)
    original = getattr(manager, "_default_auth_func", None)
    if original is None or getattr(original, "_f1core_non_interactive", False):
        return

    def authenticate():
        method = getattr(f1account, "get_auth_method", lambda: "password")()
        if method == "password" and os.environ.get("F1_USERNAME") and os.environ.get("F1_PASSWORD"):
            return original()
        raise F1AuthError("no F1 account credentials in the environment (interactive sign-in disabled)")

    authenticate._f1core_non_interactive = True  # type: ignore[attr-defined]
    manager._default_auth_func = authenticate


def fastf1_loader(cache_dir: str | Path) -> WeatherLoader:
    """A loader backed by FastF1, with its cache in `cache_dir` (created if missing). Raises
    ImportError or OSError when FastF1 or its cache folder cannot be used."""
    import fastf1
    from fastf1.exceptions import DataNotLoadedError

    quiet_fastf1_logging()
    folder = Path(cache_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    current, _ = fastf1.Cache.get_cache_info()
    # Configure once per folder: re-configuring would replace the HTTP session and drop settings
    # made on it since, such as `fastf1.Cache.offline_mode(True)`.
    if current is None or Path(current).resolve() != folder.resolve():
        configure = getattr(fastf1.Cache, "configure", None)
        if configure is not None:  # FastF1 >= 3.9
            configure(cache_dir=str(folder))
        else:  # pragma: no cover - FastF1 < 3.9
            fastf1.Cache.enable_cache(str(folder))
    _no_interactive_sign_in()

    def load(season: int, round_: int) -> pd.DataFrame:
        session = fastf1.get_session(int(season), int(round_), "R")
        session.load(laps=False, telemetry=False, weather=True, messages=False)
        try:
            return session.weather_data
        except DataNotLoadedError as exc:  # the weather part of load() failed and was only logged
            raise NoWeatherData("FastF1 could not load the session weather") from exc

    return load


# -- running loads under a deadline ------------------------------------------------------------
# Worker threads of the real FastF1 loader that outlived their deadline. FastF1 keeps global state
# (cache, HTTP session), so no new load starts while one of them still runs.
_stuck_fastf1_workers: list[threading.Thread] = []


def _call_with_deadline(loader: WeatherLoader, season: int, round_: int, timeout_s: float):
    """Run loader(season, round_) in a daemon thread (a hung one never blocks interpreter exit).
    Returns (status, value, thread) with status 'ok', 'error' or 'timeout'."""
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["value"] = loader(season, round_)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, never raised here
            outcome["error"] = exc

    thread = threading.Thread(target=work, name=f"fastf1-weather-{season}-{round_}", daemon=True)
    thread.start()
    thread.join(max(0.0, timeout_s))
    if thread.is_alive():
        return "timeout", None, thread
    if "error" in outcome:
        return "error", outcome["error"], thread
    return "ok", outcome.get("value"), thread


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def skip_reason(exc: BaseException) -> str:
    """A short, user-facing reason for a failed race load."""
    try:
        from requests.exceptions import RequestException
    except ImportError:  # pragma: no cover
        RequestException = ()  # type: ignore[assignment]
    for e in _chain(exc):
        if isinstance(e, ImplausibleWeather):
            return IMPLAUSIBLE
        if isinstance(e, NoWeatherData) or type(e).__name__ == "DataNotLoadedError":
            return NO_DATA
        if type(e).__name__ == "RateLimitExceededError":
            return "rate limited"
        if isinstance(e, (RequestException, ConnectionError, TimeoutError)) or type(e).__name__ in {
            "NameResolutionError", "MaxRetryError", "NewConnectionError", "gaierror",
        }:
            return NO_NETWORK
    # FastF1 logs the connection errors of its three schedule backends and then raises this.
    if isinstance(exc, ValueError) and "schedule" in str(exc).lower():
        return NO_NETWORK
    return f"error ({type(exc).__name__})"


def _summary(fetched: list[RaceRef], added: int, skipped: Counter) -> str:
    n_skipped = sum(skipped.values())
    why = ", ".join(f"{n} {reason}" if len(skipped) > 1 else reason for reason, n in skipped.most_common())
    skip_text = f"{plural(n_skipped, 'race')} skipped: {why}" if n_skipped else ""
    if not fetched and n_skipped and set(skipped) <= _UNREACHABLE:
        return f"FastF1 unreachable, weather not fetched ({skip_text})"
    parts = []
    if fetched:
        labels = ", ".join(f"{r.season} R{r.round}" for r in fetched)
        parts.append(f"weather_observed +{added} ({plural(len(fetched), 'race')} fetched: {labels})")
    if skip_text:
        parts.append(skip_text)
    return "; ".join(parts) or "no new rows"


def _note_misses(cur, misses: list[tuple[RaceRef, str]], fetched: list[RaceRef], now: dt.datetime) -> list[str]:
    """Count each answer without usable weather and set when its race is asked again (returned as
    notes for the run's message); a race fetched at last is no longer a miss."""
    for race in fetched:
        cur.execute("DELETE FROM source_misses WHERE source = ? AND season = ? AND round = ?",
                    [SOURCE, race.season, race.round])
    notes = []
    for race, reason in misses:
        tries = 1 + int(cur.execute("SELECT coalesce(max(tries), 0) FROM source_misses "
                                    "WHERE source = ? AND season = ? AND round = ?",
                                    [SOURCE, race.season, race.round]).fetchone()[0])
        retry_at = now + retry_wait(tries)
        cur.execute("INSERT OR REPLACE INTO source_misses VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [SOURCE, race.season, race.round, reason, tries, now, retry_at])
        notes.append(f"{race.season} R{race.round} ({reason}, {plural(tries, 'answer')} so far) asked again "
                     f"after {retry_at:%d %b %Y, %H:%M} UTC")
    return notes


# -- the importer ------------------------------------------------------------------------------
def import_session_weather(
    store: Store,
    cache_dir: Path,
    today: dt.date,
    timeout_s: float = 60,
    progress: Callable[[str], None] | None = None,
    loader: WeatherLoader | None = None,
    *,
    max_races: int = MAX_RACES_PER_RUN,
    now: dt.datetime | None = None,
) -> RunResult:
    """Fetch FastF1 race weather for up to `max_races` completed races that lack it, newest first.

    Never raises for FastF1 trouble (offline, timeouts, missing data, FastF1 errors): those races
    are skipped, counted in the run message, and tried again on the next run, or after `retry_wait`
    when FastF1 answered without usable weather. All loads together take at most about `timeout_s`
    seconds. `loader` replaces FastF1 (tests, other backends); `now` (naive UTC) the real clock."""
    now = now or utc_now()
    with ingestion_run(store, SOURCE) as run:
        races = races_needing_weather(store, today, max_races, now)
        if not races:
            run.message = "no completed races without FastF1 weather"
            return run
        deadline = time.monotonic() + timeout_s
        skipped: Counter = Counter()

        uses_fastf1 = loader is None
        if uses_fastf1:
            _stuck_fastf1_workers[:] = [t for t in _stuck_fastf1_workers if t.is_alive()]
            if _stuck_fastf1_workers:
                run.message = (f"{plural(len(races), 'race')} skipped: an earlier FastF1 load is still "
                               "running past its deadline")
                log.info("FastF1 weather: %s", run.message)
                return run
            try:
                loader = fastf1_loader(cache_dir)
            except Exception as exc:  # noqa: BLE001 - FastF1 missing, cache folder unusable, ...
                run.message = (f"FastF1 unavailable ({type(exc).__name__}: {exc}); "
                               f"{plural(len(races), 'race')} skipped")
                log.warning("FastF1 weather: %s", run.message)
                return run

        rows: list[dict[str, object]] = []
        fetched: list[RaceRef] = []
        misses: list[tuple[RaceRef, str]] = []
        for i, race in enumerate(races):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                skipped[TIMED_OUT] += len(races) - i
                break
            if progress:
                progress(f"FastF1 weather: {race.label}")
            status, value, thread = _call_with_deadline(loader, race.season, race.round, remaining)
            if status == "timeout":
                log.info("FastF1 weather: %s still loading after %.0f s; giving up", race.label, timeout_s)
                if uses_fastf1:
                    _stuck_fastf1_workers.append(thread)
                skipped[TIMED_OUT] += len(races) - i  # the deadline is spent
                break
            if status == "ok":
                try:
                    row = {"season": race.season, "round": race.round, "source": SOURCE, **aggregate_weather(value)}
                    _check_plausible(row)
                except Exception as exc:  # noqa: BLE001
                    status, value = "error", exc
            if status == "error":
                reason = skip_reason(value)
                if reason == IMPLAUSIBLE:
                    log.warning("FastF1 weather: %s skipped (%s)", race.label, value)
                else:
                    log.debug("FastF1 weather: %s skipped (%s)", race.label, reason, exc_info=value)
                if reason == NO_NETWORK:
                    # The next races would fail the same way; do not spend the deadline on them.
                    skipped[reason] += len(races) - i
                    break
                skipped[reason] += 1
                if reason in _ANSWERED_WITHOUT_DATA:
                    misses.append((race, reason))
                continue
            rows.append(row)
            fetched.append(race)

        added = 0
        if rows or misses:
            with run.transaction() as cur:
                if rows:
                    counts = Store.upsert(cur, {"weather_observed": _frame(rows)})
                    run.add(counts)
                    added = counts.get("weather_observed", 0)
                run.notes.extend(_note_misses(cur, misses, fetched, now))
        run.message = _summary(fetched, added, skipped)
        log.info("FastF1 weather: %s", run.message)
    return run
