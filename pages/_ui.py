"""The one shared UI module of the pages: settings, the process's store and refresher, cached data
access, colours and chart styling, errors, admin checks, freshness and empty-store notices, tables
with CSV downloads.

Pages import from here (`from pages._ui import ...`) and from `f1core`; they hold no SQL and no
modelling. Cached data is keyed by `Store.data_version()`, so every cache refreshes by itself when
an ingestion run lands new rows.
"""
from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from f1core import clock
from f1core.config import Settings, SettingsError, load_settings
from f1core.ingest.refresh import Refresher
from f1core.ingest.runs import IngestError
from f1core.store import Store, StoreError

if TYPE_CHECKING:
    from f1core.engine.service import Engine

log = logging.getLogger("f1app")

NEUTRAL_COLOR = "#9AA0A6"

# Team colours by constructorRef: the official ones as FastF1 lists them, with FastF1's own
# choice where official colours clash on one grid (Alpine pink beside three blue teams) and
# Cadillac's near-black lightened so it shows on the dark theme. Older teams are approximations.
TEAM_COLORS: dict[str, str] = {
    # 2024-2026 grid
    "red_bull": "#3671C6", "mclaren": "#FF8000", "ferrari": "#E80020", "mercedes": "#27F4D2",
    "aston_martin": "#229971", "alpine": "#FF87BC", "williams": "#64C4FF", "rb": "#6692FF",
    "sauber": "#52E252", "haas": "#B6BABD", "audi": "#FF2D00", "cadillac": "#8E8E93",
    # earlier names of today's teams
    "alphatauri": "#4E7C9B", "toro_rosso": "#469BFF", "alfa": "#B12039", "racing_point": "#F596C8",
    "force_india": "#F596C8", "renault": "#FFF500", "lotus_f1": "#FFB800", "brawn": "#B8FD6E",
    "bmw_sauber": "#6CA0DC", "honda": "#E8E8E8", "bar": "#C9C9C9", "jaguar": "#0E8A4A",
    "stewart": "#F0F0F0", "benetton": "#00A86B", "toyota": "#CC1F30", "jordan": "#F9D71C",
    "spyker": "#FF7F00", "spyker_mf1": "#FF7F00", "mf1": "#D33B3B", "super_aguri": "#D32F2F",
    "minardi": "#8A8A8A", "prost": "#2A52BE", "arrows": "#FF8C00", "tyrrell": "#1F6FD1",
    "ligier": "#0055A4", "marussia": "#C3002F", "manor": "#C3002F", "virgin": "#D4001F",
    "caterham": "#0B8F4A", "lotus_racing": "#0B8F4A", "hrt": "#A6904F", "team_lotus": "#FFD200",
}

_ADMIN_OK = "_f1_admin_ok"


# -- settings, store, refresher -----------------------------------------------------------------

def get_settings() -> Settings:
    """The settings (environment, overridden by .streamlit/secrets.toml). Stops the page with a
    plain message when a setting cannot be used."""
    try:
        return load_settings()
    except SettingsError as exc:
        st.error(f"A setting cannot be used: {exc}. Fix it in the environment or in "
                 "`.streamlit/secrets.toml`, then reload the page.", icon=":material/settings:")
        st.stop()


@st.cache_resource(show_spinner=False)
def _open_store(db_path: str) -> Store:
    return Store(db_path)


def get_store() -> Store:
    """The process's one Store (one DuckDB connection shared by all sessions and the refresher)."""
    path = get_settings().db_path
    try:
        return _open_store(str(path))
    except StoreError as exc:
        friendly_error(exc, "open the data store")
        st.stop()


@st.cache_resource(show_spinner=False)
def _make_refresher(db_path: str, _settings: Settings) -> Refresher:
    def upkeep(_outcomes, progress) -> None:
        # After every refresh: retrain when due, freeze the predictions users see, keep the
        # backtest current. Runs in the refresher's thread, never touches Streamlit.
        for line in _make_engine(db_path, _settings).upkeep(lambda message, _f: progress(message)):
            log.info("upkeep: %s", line)

    return Refresher(_open_store(db_path), _settings, after_refresh=upkeep)


def get_refresher() -> Refresher:
    """The process's background refresher over `get_store()`. `app.py` starts it once per server
    process; pages read its status and trigger it."""
    settings = get_settings()
    get_store()  # stops the page with a plain message when the store cannot be opened
    return _make_refresher(str(settings.db_path), settings)


def today() -> dt.date:
    """Today's date, or F1_TODAY when set (demos and tests)."""
    return clock.today(get_settings().today)


# -- cached data access -------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _make_engine(db_path: str, _settings: Settings) -> Engine:
    from f1core.engine.service import Engine  # imported on first use: it loads the model libraries
    from f1core.engine.training import TrainingConfig

    return Engine(_open_store(db_path), _settings.models_dir, TrainingConfig.starting(_settings.train_from),
                  today=_settings.today)


def get_engine() -> Engine:
    """The process's prediction engine over `get_store()` (models in F1_MODELS). It keeps the
    feature frame and the champion model cached per data version for all sessions."""
    settings = get_settings()
    get_store()  # stops the page with a plain message when the store cannot be opened
    return _make_engine(str(settings.db_path), settings)


def feature_frame() -> pd.DataFrame:
    """`f1core.engine.features.build_frame` of the store, from the engine's cache (rebuilt once per
    data version, in a few seconds). Treat it as read-only: never modify it in place."""
    with st.spinner("Building the features of every race (a few seconds, once per data update)…"):
        return get_engine().frame()


@st.cache_data(show_spinner=False, max_entries=256)
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


# -- colours and charts -------------------------------------------------------------------------

def team_color(constructor_ref: str | None) -> str:
    return TEAM_COLORS.get(constructor_ref or "", NEUTRAL_COLOR)


def style_figure(fig: go.Figure, *, height: int = 440, title: str | None = None) -> go.Figure:
    """The house layout for every chart: compact margins, the legend in rows above the plot (beside
    it would squeeze the plot on a phone; below, it collides with long axis labels), a hover label
    per point. Colours and fonts follow the Streamlit theme (see `show_chart`)."""
    fig.update_layout(
        height=height,
        title=dict(text=title, x=0, xanchor="left") if title else None,
        margin=dict(l=8, r=8, t=48 if title else 16, b=8),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left", title=None,
                    font=dict(size=12), itemwidth=30),
        hoverlabel=dict(namelength=-1),
        font=dict(size=13),
    )
    return fig


def show_chart(fig: go.Figure, key: str | None = None) -> None:
    st.plotly_chart(fig, width="stretch", theme="streamlit", key=key,
                    config={"displaylogo": False, "scrollZoom": False,
                            "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]})


# -- tables -------------------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def download_csv(df: pd.DataFrame, filename: str, label: str = "Download CSV") -> None:
    """A download button for `df` as CSV. Clicking it does not rerun the page."""
    st.download_button(label, df.to_csv(index=False).encode("utf-8"), file_name=filename, mime="text/csv",
                       key=f"download_{_slug(filename)}", icon=":material/download:", on_click="ignore")


def show_table(df: pd.DataFrame, filename: str, *, columns: list[str] | None = None,
               column_config: dict | None = None, height: int | str = "auto") -> None:
    """A table with a CSV download of all its columns (including ones not shown)."""
    st.dataframe(df, hide_index=True, width="stretch", height=height, column_order=columns,
                 column_config=column_config)
    download_csv(df, filename)


# -- errors and admin ---------------------------------------------------------------------------

_PLAIN_ERRORS = (IngestError, StoreError, SettingsError, OSError)
# The engine's own errors already say what and where in plain words; matched by name so that
# importing this module does not load the model libraries on every page.
_PLAIN_ERROR_NAMES = {"NotEnoughData", "RegistryError", "RetrainInProgress", "PredictionError", "ScenarioError"}


def friendly_error(exc: BaseException, context: str) -> None:
    """Tell the user in plain words that `context` (e.g. "load the standings") failed; the
    traceback goes to the server log, never to the page."""
    log.error("could not %s", context, exc_info=exc)
    if isinstance(exc, _PLAIN_ERRORS) or type(exc).__name__ in _PLAIN_ERROR_NAMES:
        reason = str(exc)
    else:
        reason = (f"an unexpected problem ({type(exc).__name__}). The details are in the server log; "
                  "reloading the page may help")
    st.error(f"Could not {context}: {reason}", icon=":material/error:")


def require_admin(action_name: str, key: str | None = None) -> bool:
    """True when the user may `action_name` (e.g. "refresh the data"). With F1_ADMIN_PASSWORD set
    this asks for it once per session; without it, everyone may. `key` tells apart two places of
    one page that ask for the same action (the password field is then `admin_password_{key}`)."""
    expected = get_settings().admin_password
    if not expected or st.session_state.get(_ADMIN_OK):
        return True
    given = st.text_input(f"Admin password to {action_name}", type="password",
                          key=f"admin_password_{key or _slug(action_name)}",
                          help="This deployment protects actions that change data or models (F1_ADMIN_PASSWORD).")
    if not given:
        return False
    if hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        st.session_state[_ADMIN_OK] = True
        return True
    st.error("Wrong admin password.", icon=":material/lock:")
    return False


# -- refresh and freshness ----------------------------------------------------------------------

def _ago(moment: dt.datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = (dt.datetime.now(dt.timezone.utc) - moment).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 129600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def refresh_now_button(key: str) -> None:
    """A "Refresh now" button that asks the background refresher for a run (admin-protected);
    greyed out while a refresh runs."""
    refresher = get_refresher()
    if refresher.running:
        st.button("Refresh now", key=key, icon=":material/refresh:", disabled=True,
                  help="A refresh is running now; this page updates when it is done.")
        return
    if not require_admin("refresh the data", key=key):
        return
    if st.button("Refresh now", key=key, icon=":material/refresh:"):
        before = refresher.status().last_finished_at
        if not refresher.trigger():
            st.info("A refresh is already running.", icon=":material/sync:")
            return
        # Give the thread a moment to take the run, so the rerun below shows it running
        # (and polls) rather than idle.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not refresher.running \
                and refresher.status().last_finished_at == before:
            time.sleep(0.05)
        st.rerun()


def refresh_status_panel() -> None:
    """The background refresh: running or idle, current step, last success and problems. While a
    refresh runs (or the first one of the process is due) it updates itself every 2 s, and when
    a run finishes it reruns the whole page so everything shows the new data."""
    refresher = get_refresher()
    seen = refresher.status()
    seen_version = get_store().data_version()
    waiting = seen.running or seen.last_finished_at is None

    @st.fragment(run_every=2 if waiting else None)
    def panel() -> None:
        status = refresher.status()
        # Redraw everything as soon as new rows land (a bootstrap's snapshot lands in seconds,
        # long before the API steps of the same refresh give up offline), and when a run ends.
        if (status.last_finished_at != seen.last_finished_at and not status.running) \
                or get_store().data_version() != seen_version:
            st.rerun(scope="app")
        if status.running:
            st.markdown(f":material/sync: **Refreshing now** — {status.current_step or 'starting'}")
        elif status.last_finished_at is None:
            st.markdown(":material/schedule: **No refresh has finished in this server process yet.**")
        else:
            st.markdown(f":material/check_circle: **Idle** — last refresh finished {_ago(status.last_finished_at)}"
                        + (f"; data up to {status.data_as_of}" if status.data_as_of else ""))
        st.caption(f"Last success: {_ago(status.last_success_at)} · rows added by the last run: "
                   f"{status.rows_added:,} · runs every {get_settings().refresh_hours:g} h (F1_REFRESH_HOURS)")
        failed = [s.step for s in status.steps if not s.ok]
        if status.last_error and (status.last_success_at is None or status.last_error_at >= status.last_success_at):
            what = ", ".join(failed) if failed else "the refresh itself"
            st.warning(f"The last refresh ({_ago(status.last_error_at)}) failed for: **{what}**. Data from "
                       "the other sources is unaffected; a failed step changes nothing and is retried "
                       "on the next refresh.", icon=":material/warning:")
        if status.steps or status.last_error:
            with st.expander("Details of the last refresh"):
                for step in status.steps:
                    st.markdown(f"{':material/check:' if step.ok else ':material/close:'} **{step.step}**")
                    st.text(step.message)
                if not status.steps and status.last_error:
                    st.text(status.last_error)

    panel()


def empty_store_notice() -> None:
    """Explain that the store holds no races yet and how to fill it, with the refresher's progress
    (the page redraws by itself when a bootstrap finishes)."""
    settings = get_settings()
    where = (f"the snapshot `{settings.snapshot}`" if settings.snapshot
             else f"the Jolpica API ({settings.jolpica_url})")
    st.info(
        f"**No race data yet.** The app fills its store ({settings.db_path}) by itself from {where}; "
        "that takes a few seconds from a snapshot and a few minutes from the API.\n\n"
        "If it cannot, fill it in one of these ways:\n"
        "- set `F1_SNAPSHOT` to a folder or zip of Ergast-format CSVs (and `F1_WEATHER` to the weather "
        "CSVs), then restart the app;\n"
        "- or stop the app and run `python -m f1core ingest --snapshot PATH [--weather PATH]`, then start it again;\n"
        "- or make sure this server can reach the Jolpica API and press **Refresh now** on the Data page.",
        icon=":material/database:",
    )
    refresh_status_panel()


def require_data() -> Store:
    """The store, or the empty-store notice and the end of the page when it holds no races."""
    store = get_store()
    if store.is_empty():
        empty_store_notice()
        st.stop()
    return store


def freshness_banner() -> None:
    """One line on how fresh the data is; a warning with a refresh button when races that have
    been run are missing their results."""
    store = get_store()
    if store.is_empty():
        return  # the page shows the empty-store notice
    day = today()
    last = store.last_race_with_results()
    missing = store.races_missing_results(day)
    if missing:
        names = ", ".join(r.label for r in missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        st.warning(
            f"**Results are missing for {len(missing)} race{'s' if len(missing) > 1 else ''} already run** "
            f"({names}). Everything here stops at {last.label if last else 'no race'}; "
            "predictions for those races are not checked yet.",
            icon=":material/update:",
        )
        refresh_now_button("freshness_refresh")
        return
    upcoming = store.next_races(day, 1)
    nxt = f" · next: {upcoming[0].label}, {upcoming[0].date:%-d %b %Y}" if upcoming else ""
    st.caption(f":material/database: Data up to {last.label} ({last.date:%-d %b %Y}){nxt}")


# -- predictions and models ---------------------------------------------------------------------

def champion_version() -> str | None:
    return get_engine().registry.champion_version()


@st.cache_data(show_spinner=False, max_entries=512)
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


@st.cache_data(show_spinner=False, ttl=3600, max_entries=8)
def _freeze(db_path: str, champion: str) -> int:
    return get_engine().freeze_predictions()


def freeze_shown_predictions() -> None:
    """Freeze the predictions users see into the public prediction log: at most once an hour per
    process from the pages (the engine itself writes at most once every 6 h per race, mode and
    model). Bookkeeping: it never breaks a page."""
    try:
        _freeze(str(get_store().path), champion_version() or "")
    except Exception as exc:
        log.warning("could not freeze the predictions: %s", exc)


@contextmanager
def progress_status(label: str) -> Iterator[tuple[Any, Callable[[str, float], None]]]:
    """An expanded `st.status` box with a progress bar and a line for the current step; yields
    the box and a `progress(message, fraction)` callback for the engine's long jobs."""
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0)
        line = st.empty()

        def progress(message: str, fraction: float) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0))
            line.caption(message)

        yield status, progress


def retrain_with_progress(key: str) -> Any:
    """The Retrain button (admin-protected): trains a challenger, compares it with the champion and
    shows each step and the decision with its reasons. Returns the decision, or None."""
    from f1core.engine.service import RetrainInProgress

    engine = get_engine()
    if engine.retraining:
        st.button("Retrain", key=key, icon=":material/model_training:", disabled=True,
                  help="A retrain is running now.")
        st.info("A retrain is already running; this page shows the new model when it is done.",
                icon=":material/hourglass_top:")
        return None
    if not require_admin("retrain the model", key=key):
        return None
    if not st.button("Retrain", key=key, icon=":material/model_training:", type="primary"):
        return None
    with progress_status("Retraining…") as (status, progress):
        try:
            decision = engine.retrain(progress)
        except RetrainInProgress as exc:
            status.update(label="A retrain is already running", state="error")
            st.info(str(exc), icon=":material/hourglass_top:")
            return None
        except Exception as exc:
            status.update(label="Retraining failed", state="error")
            friendly_error(exc, "retrain the model")
            return None
        verdict = "promoted to champion" if decision.promoted else "kept pending (champion unchanged)"
        status.update(label=f"{decision.challenger} {verdict} in {decision.seconds:.0f} s", state="complete")
        for reason in decision.reasons:
            st.markdown(f"- {reason}")
    st.cache_data.clear()
    return decision


def require_model() -> Any:
    """The engine with a champion model, or a notice (and the end of the page): the first model
    is being trained in the background, or the user may train it now."""
    engine = get_engine()
    if engine.registry.champion_version():
        return engine
    if engine.retraining:
        st.info("**Training the first model** from the data in the store (under a minute). "
                "This page updates by itself when it is ready.", icon=":material/model_training:")

        @st.fragment(run_every=3)
        def wait_for_model() -> None:
            if engine.registry.champion_version():
                st.rerun(scope="app")

        wait_for_model()
    else:
        st.info("**There is no trained model yet.** Train one now (under a minute); the app also "
                "trains one by itself after the data is loaded.", icon=":material/model_training:")
        if retrain_with_progress("require_model_train"):
            st.rerun()
    st.stop()


def pct(p: float | None, digits: int = 0) -> str:
    """A probability for people: '37%', '<1%' for tiny non-zero chances, '—' when unknown."""
    if p is None or pd.isna(p):
        return "—"
    if 0 < p < 0.005:
        return "<1%"
    return f"{p * 100:.{digits}f}%"


MODE_NOTE = {
    "pre-qualifying": "Before qualifying: the grid is the qualifying model's prediction.",
    "post-qualifying": "After qualifying: the real grid is used.",
}
