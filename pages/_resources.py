"""The process's resources and the pages' cached data access.

One `Runtime` per server process (store, engine, refresher with its upkeep), shared by every
session through `st.cache_resource`. Cached data is keyed by the store's data version (and the
champion's version for predictions), so every cache refreshes by itself when an ingestion run
lands new rows or a new model is promoted. Keys of a superseded version are never asked for
again, so they must not stay: every cache is bounded in entries and in time (`max_entries`,
`ttl`), and `evict_superseded_data` (called by `app.py` before each page) empties the data caches
as soon as a new data version is seen. Pages call these helpers and `f1core`; they hold no SQL and
no modelling.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd
import streamlit as st

from f1core import clock
from f1core.config import Settings, SettingsError, load_settings
from f1core.store import Store, StoreError

if TYPE_CHECKING:
    from f1core.engine.service import Engine
    from f1core.ingest.refresh import Refresher
    from f1core.runtime import Runtime

log = logging.getLogger("f1app")


def get_settings() -> Settings:
    """The settings (environment, overridden by .streamlit/secrets.toml). Stops the page with a
    plain message when a setting cannot be used."""
    try:
        return load_settings()
    except SettingsError as exc:
        st.error(f"A setting cannot be used: {exc}. Fix it in the environment or in "
                 "`.streamlit/secrets.toml`, then reload the page.", icon=":material/settings:")
        st.stop()


def _close_runtime(runtime: Runtime) -> None:
    runtime.close()


# One store per process: a second F1_DB (only tests switch it) closes the runtime it replaces.
@st.cache_resource(show_spinner=False, max_entries=1, on_release=_close_runtime)
def _open_runtime(db_path: str, _settings: Settings) -> Runtime:
    from f1core.runtime import open_runtime

    return open_runtime(_settings)


def get_runtime() -> Runtime:
    """The process's one Runtime (one DuckDB connection shared by all sessions and the refresher)."""
    settings = get_settings()
    try:
        return _open_runtime(str(settings.db_path), settings)
    except StoreError as exc:
        from pages._widgets import friendly_error

        friendly_error(exc, "open the data store")
        st.stop()


def get_store() -> Store:
    return get_runtime().store


def get_engine() -> Engine:
    """The process's prediction engine: it keeps the feature frame and the champion model cached
    per data version for all sessions."""
    return get_runtime().engine


def get_refresher() -> Refresher:
    """The background refresher. `app.py` starts it once per server process; pages read its
    status and trigger it."""
    return get_runtime().refresher


def today() -> dt.date:
    """Today's date, or F1_TODAY when set (demos and tests)."""
    return clock.today(get_settings().today)


def feature_frame() -> pd.DataFrame:
    """`f1core.engine.features.build_frame` of the store, from the engine's cache (rebuilt once per
    data version, in a few seconds). Treat it as read-only: never modify it in place."""
    with st.spinner("Building the features of every race (a few seconds, once per data update)…"):
        return get_engine().frame()


DATA_TTL_S = 3 * 3600  # a backstop: `evict_superseded_data` drops old versions at once


@st.cache_data(show_spinner=False, max_entries=256, ttl=DATA_TTL_S)
def _cached_call(name: str, db_path: str, data_version: int, args: tuple, kwargs: tuple, *,
                 _fn: Callable[..., Any], _leading: tuple) -> Any:
    return _fn(*_leading, *args, **dict(kwargs))


def _call_cached(fn: Callable[..., Any], with_frame: bool, args: tuple, kwargs: dict) -> Any:
    store = get_store()
    version = store.data_version()
    leading = (store, feature_frame()) if with_frame else (store,)
    return _cached_call(f"{fn.__module__}.{fn.__qualname__}", str(store.path), version, args,
                        tuple(sorted(kwargs.items())), _fn=fn, _leading=leading)


def cached_query(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(store, *args, **kwargs)`, cached until the store's data changes. `fn` is an f1core
    function taking the Store first; the arguments must be hashable by Streamlit (numbers,
    strings, dates, tuples...). Returns a copy, so callers may modify data frames."""
    return _call_cached(fn, False, args, kwargs)


def cached_frame_query(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(store, feature_frame(), *args, **kwargs)`, cached until the store's data changes."""
    return _call_cached(fn, True, args, kwargs)


def champion_version() -> str | None:
    return get_engine().registry.champion_version()


@st.cache_data(show_spinner=False, ttl=3600, max_entries=4)
def _retrain_triggers(db_path: str, data_version: int, registry_state: str) -> list[tuple[str, str]]:
    return get_engine().lifecycle.retrain_triggers()


def retrain_triggers() -> list[tuple[str, str]]:
    """`Lifecycle.retrain_triggers`, cached until the data or the model registry changes (a retrain
    kept as pending changes the reasons without changing the champion)."""
    engine = get_engine()
    state = hashlib.sha256(json.dumps(engine.registry.index(), sort_keys=True, default=str).encode()).hexdigest()
    return _retrain_triggers(str(engine.store.path), engine.store.data_version(), state)


@st.cache_data(show_spinner=False, max_entries=512, ttl=DATA_TTL_S)
def _prediction(db_path: str, data_version: int, model_version: str, season: int, round_: int,
                scenario_items: tuple) -> Any:
    from f1core.engine.scenario import Scenario

    return get_engine().predict_race(season, round_, Scenario.from_query(dict(scenario_items)))


def race_prediction(season: int, round_: int, scenario: Any = None) -> Any:
    """`Engine.predict_race`, cached per data version, champion version and scenario (a what-if
    toggled back and forth is drawn from the cache). Needs a champion: call `require_model()`."""
    scenario_items = tuple(sorted(scenario.to_query().items())) if scenario is not None else ()
    store = get_store()
    return _prediction(str(store.path), store.data_version(), champion_version() or "", int(season),
                       int(round_), scenario_items)


@st.cache_data(show_spinner=False, max_entries=48, ttl=DATA_TTL_S)
def _race_call(method: str, db_path: str, data_version: int, model_version: str, season: int, round_: int) -> Any:
    return getattr(get_engine(), method)(season, round_)


def _per_race(method: str, season: int, round_: int) -> Any:
    """`Engine.<method>(season, round_)`, cached per data version and champion."""
    store = get_store()
    return _race_call(method, str(store.path), store.data_version(), champion_version() or "", int(season),
                      int(round_))


def field_contributions(season: int, round_: int) -> Any:
    """`Engine.field_contributions` of a race as it is, cached per data version and champion."""
    return _per_race("field_contributions", season, round_)


def sprint_prediction(season: int, round_: int) -> Any:
    """`Engine.predict_sprint` of a sprint weekend, cached per data version and champion."""
    return _per_race("predict_sprint", season, round_)


@st.cache_data(show_spinner=False, ttl=600, max_entries=2)
def _season_replay(db_path: str, season_run: int) -> tuple | None:
    return get_engine().records.latest_season_backtest()


def latest_season_replay() -> tuple[dict, pd.DataFrame] | None:
    """The latest championship replay, (its run, one row per checkpoint), or None before the first;
    cached until a newer replay lands (the Accuracy and Season pages both read it)."""
    engine = get_engine()
    return _season_replay(str(engine.store.path), engine.records.latest_season_backtest_id())


@st.cache_data(show_spinner=False, ttl=3600, max_entries=8)
def _freeze(db_path: str, champion: str) -> int:
    return get_engine().lifecycle.freeze_predictions()


def freeze_shown_predictions() -> None:
    """Freeze the predictions users see into the public prediction log: at most once an hour per
    process from the pages (the engine itself writes at most once every 6 h per race, mode and
    model). Bookkeeping: it never breaks a page."""
    try:
        _freeze(str(get_store().path), champion_version() or "")
    except Exception as exc:
        log.warning("could not freeze the predictions: %s", exc)


_seen_versions: dict[str, int] = {}  # store path -> the newest data version a page run has seen
_seen_lock = threading.Lock()


def evict_superseded_data() -> bool:
    """Empty every `st.cache_data` cache once the store has a new data version: what they hold
    was keyed by the old one and would only be pushed out by hundreds of new entries, so memory
    grew by a set of caches with each refresh. Cheap otherwise (one query). Returns True when it
    emptied them."""
    store = get_store()
    version = store.data_version()
    with _seen_lock:
        before = _seen_versions.get(str(store.path))
        _seen_versions[str(store.path)] = version
    if before is None or before == version:
        return False
    st.cache_data.clear()
    log.info("data version %s replaces %s: cached page data emptied", version, before)
    return True
