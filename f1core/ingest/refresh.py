"""Bootstrap and periodic refresh of the store, and the background thread that runs them.

One refresh runs at a time per process; a trigger while one runs is refused, not queued. The
thread never touches Streamlit: the UI polls `Refresher.status()`. A read-only store is not
refreshed: the refresher says so in `RefreshStatus.skipped` and does nothing else.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field, replace
from typing import Callable

from f1core import clock
from f1core.config import Settings
from f1core.ingest.http import SourceUnreachable
from f1core.ingest.runs import RunResult
from f1core.progress import Progress, silent
from f1core.store import Store

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class StepOutcome:
    step: str
    ok: bool
    rows_added: int
    message: str
    unreachable: bool = False  # the source did not answer at all (no internet, firewall, timeout)

    @property
    def source(self) -> str:
        """The step's source in plain words."""
        return STEP_SOURCES.get(self.step, self.step)


# A server whose store has data and a model refreshes this long after start-up, so its first
# visitors do not share the CPU with it; one without either starts at once (`app.py`).
FIRST_REFRESH_DELAY_S = 60

# What each refresh step reads, as a user knows it.
STEP_SOURCES = {
    "snapshot": "the offline dump (F1_SNAPSHOT)", "snapshot-url": "the history dump (F1_SNAPSHOT_URL)",
    "weather-csv": "the weather files (F1_WEATHER)",
    "jolpica-bootstrap": "the Jolpica F1 API", "jolpica": "the Jolpica F1 API",
    "fastf1": "FastF1's session weather", "open-meteo": "the Open-Meteo forecast",
}


@dataclass(frozen=True)
class RefreshStatus:
    running: bool = False
    current_step: str = ""
    started_at: dt.datetime | None = None
    last_finished_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    rows_added: int = 0
    data_as_of: str | None = None
    steps: tuple[StepOutcome, ...] = field(default_factory=tuple)
    skipped: str | None = None  # why the last run did nothing (a read-only store), in plain words


class NothingToBootstrapFrom(RuntimeError):
    """The store is empty and neither a snapshot, nor a dump to download, nor the API is available."""


def _run_step(name: str, fn: Callable[[], RunResult], outcomes: list[StepOutcome], progress: Progress) -> RunResult | None:
    progress(f"reading {STEP_SOURCES.get(name, name)}")
    try:
        result = fn()
    except Exception as exc:  # each step is recorded in ingestion_runs; one failing must not stop the others
        log.warning("refresh step %s failed: %s", name, exc)
        outcomes.append(StepOutcome(name, False, 0, str(exc), unreachable=isinstance(exc, SourceUnreachable)))
        progress(f"{STEP_SOURCES.get(name, name)} failed")
        return None
    outcomes.append(StepOutcome(name, True, result.total_added, result.message or f"{result.total_added} rows added"))
    progress(f"{STEP_SOURCES.get(name, name)}: {result.total_added:,} rows added")
    return result


def bootstrap(store: Store, settings: Settings, progress: Progress = silent) -> list[StepOutcome]:
    """Fill an empty store: from F1_SNAPSHOT (and F1_WEATHER) when set, else from the dump at
    F1_SNAPSHOT_URL when set and it downloads and loads, else from the API."""
    from f1core.ingest.ergast_csv import import_dump
    from f1core.ingest.snapshot_url import import_dump_from_url
    from f1core.ingest.weather_csv import import_weather

    outcomes: list[StepOutcome] = []
    if settings.snapshot:
        _run_step("snapshot", lambda: import_dump(store, settings.snapshot, progress), outcomes, progress)
    elif settings.snapshot_url:
        _run_step("snapshot-url", lambda: import_dump_from_url(store, settings.snapshot_url, settings.db_path.parent,
                                                              progress), outcomes, progress)
    if not settings.snapshot and store.is_empty():
        from f1core.ingest.jolpica import JolpicaClient, bootstrap_from_api

        client = JolpicaClient(settings.jolpica_url)
        _run_step("jolpica-bootstrap",
                  lambda: bootstrap_from_api(store, client, clock.today(settings.today), progress=progress),
                  outcomes, progress)
    if settings.weather and not store.is_empty():
        _run_step("weather-csv", lambda: import_weather(store, settings.weather, progress), outcomes, progress)
    return outcomes


def refresh(store: Store, settings: Settings, progress: Progress = silent,
            use_api: bool = True) -> list[StepOutcome]:
    """Bring the store up to date: bootstrap when empty, then new races, session weather and forecasts.
    Raises StoreReadOnly at once for a store that cannot be written."""
    store.require_writable()
    outcomes: list[StepOutcome] = []
    if store.is_empty():
        outcomes += bootstrap(store, settings, progress)
        if store.is_empty():
            return outcomes
    if not use_api:
        return outcomes
    from f1core.ingest.fastf1_weather import import_session_weather
    from f1core.ingest.jolpica import JolpicaClient, import_new_races
    from f1core.ingest.openmeteo import OpenMeteoClient, import_forecasts

    today = clock.today(settings.today)
    jolpica = JolpicaClient(settings.jolpica_url)
    _run_step("jolpica", lambda: import_new_races(store, jolpica, today, progress=progress), outcomes, progress)
    _run_step("fastf1", lambda: import_session_weather(store, settings.fastf1_cache, today, progress=progress),
              outcomes, progress)
    meteo = OpenMeteoClient(settings.open_meteo_url)
    _run_step("open-meteo", lambda: import_forecasts(store, meteo, clock.now(settings.today), progress=progress),
              outcomes, progress)
    return outcomes


class Refresher:
    """Runs `refresh` in a daemon thread every `settings.refresh_hours`, or on demand."""

    def __init__(self, store: Store, settings: Settings,
                 refresh_fn: Callable[..., list[StepOutcome]] = refresh,
                 after_refresh: Callable[[list[StepOutcome], Progress], None] | None = None):
        self.store = store
        self.settings = settings
        self._refresh_fn = refresh_fn
        self._after_refresh = after_refresh
        self._run_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._status = RefreshStatus()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- status ---------------------------------------------------------------------------------
    def status(self) -> RefreshStatus:
        with self._state_lock:
            return self._status

    def _update(self, **changes) -> None:
        with self._state_lock:
            self._status = replace(self._status, **changes)

    def _step(self, message: str, _fraction: float | None = None) -> None:
        self._update(current_step=message)

    # -- running --------------------------------------------------------------------------------
    def run_once(self, use_api: bool = True) -> list[StepOutcome] | None:
        """Run a refresh now in this thread. Returns None when one is already running."""
        if not self._run_lock.acquire(blocking=False):
            return None
        try:
            now = dt.datetime.now(dt.timezone.utc)
            if self.store.read_only:
                last = self.store.last_race_with_results()
                self._update(running=False, current_step="", started_at=now, last_finished_at=now, steps=(),
                             rows_added=0, data_as_of=last.label if last else None,
                             skipped=f"Refresh and retraining are off: the store {self.store.path} is read-only "
                                     f"({self.store.read_only_reason}). The data in it is shown as it is.")
                return []
            self._update(running=True, started_at=now, current_step="starting", steps=(), skipped=None)
            outcomes = self._refresh_fn(self.store, self.settings,
                                        progress=self._step, use_api=use_api)
            if self._after_refresh:
                # Still "running" while the hook works (e.g. retraining), with its steps shown.
                try:
                    self._after_refresh(outcomes, self._step)
                except Exception:  # a failing hook (e.g. retrain) must not kill the refresh loop
                    log.exception("after-refresh hook failed")
            finished = dt.datetime.now(dt.timezone.utc)
            failures = [o for o in outcomes if not o.ok]
            last = self.store.last_race_with_results()
            changes = dict(running=False, current_step="", last_finished_at=finished, steps=tuple(outcomes),
                           rows_added=sum(o.rows_added for o in outcomes),
                           data_as_of=last.label if last else None)
            if failures:
                changes.update(last_error="; ".join(f"{o.step}: {o.message}" for o in failures), last_error_at=finished)
            if any(o.ok for o in outcomes) or not outcomes:
                changes.update(last_success_at=finished)
            self._update(**changes)
            return outcomes
        except Exception as exc:
            log.exception("refresh failed")
            now = dt.datetime.now(dt.timezone.utc)
            self._update(running=False, current_step="", last_error=str(exc), last_error_at=now, last_finished_at=now)
            return []
        finally:
            self._run_lock.release()

    def trigger(self) -> bool:
        """Ask the background thread for a refresh now. False when one is already running."""
        if self._run_lock.locked():
            return False
        if self._thread is None or not self._thread.is_alive():
            threading.Thread(target=self.run_once, name="f1-refresh-once", daemon=True).start()
        else:
            self._wake.set()
        return True

    def start(self, first_delay_s: float = 0.0) -> None:
        """Start the periodic thread (idempotent): a first refresh after `first_delay_s` (or
        sooner if triggered), then every period."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._loop, args=(first_delay_s,), name="f1-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _loop(self, first_delay_s: float = 0.0) -> None:
        period = self.settings.refresh_hours * 3600
        if first_delay_s > 0:
            self._wake.wait(timeout=first_delay_s)
            self._wake.clear()
        while not self._stopping:
            self.run_once()
            self._wake.wait(timeout=period)
            self._wake.clear()

    @property
    def started(self) -> bool:
        """The periodic thread runs (the app starts it; a command or a test may not)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._run_lock.locked()
