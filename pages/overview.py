"""Overview: the next race at a glance (when, where, who is favourite and how sure the model is),
how accurate the model has been out of sample, and how it fared at the last race."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from f1core import clock
from f1core.engine.training import POST, PRE
from f1core.views import racecards
from f1core.views.terms import BASELINE_SHORT, MODE_LABEL, QUALIFYING_ORDER
from pages._charts import probability_bars
from pages._resources import (
    cached_query,
    freeze_shown_predictions,
    get_engine,
    get_refresher,
    get_settings,
    get_store,
    race_prediction,
)
from pages._style import pct, pcts, show_chart, team_color
from pages._widgets import friendly_error, model_fallback_notice, require_data, require_model, why_favourite

PAGES_DIR = Path(__file__).resolve().parent


# -- helpers ------------------------------------------------------------------------------------

def countdown_text(start: dt.datetime, now: dt.datetime) -> str:
    left = start - now
    if left.total_seconds() <= 0:
        return "under way"
    minutes = int(left.total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else "under a minute"


def viewer_time(moment: dt.datetime, track_clock: dt.datetime | None) -> str | None:
    """The moment in the viewer's own time zone (Streamlit reports the browser's zone), e.g.
    '16:00 your time (America/Toronto)'; None when the browser did not say, or when the viewer's
    clock reads UTC or what the track's clock reads."""
    try:
        zone = st.context.timezone
    except Exception:  # no browser (scripts, tests)
        return None
    if not zone:
        return None
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return None
    if local.utcoffset() in {dt.timedelta(0), track_clock.utcoffset() if track_clock else None}:
        return None  # UTC and the track's clock are on show already
    day = "" if local.date() == (track_clock or moment).date() else f"{local:%a} "
    return f"{day}{local:%H:%M} your time ({zone.replace('_', ' ')})"


def accuracy_line(summary: dict, model_version: str, mode_now: str) -> str:
    """The model's walk-forward record in one line: winner picked, beside its baseline."""
    seasons = (f"{summary['from_season']}" if summary["from_season"] == summary["to_season"]
               else f"{summary['from_season']}–{summary['to_season']}")
    post = summary["modes"].get(POST, {})
    model, grid = post.get("model"), post.get("baselines", {}).get("grid")
    if not model or not grid:
        return ""
    lo, hi = model["winner_top1_ci"]
    line = (f"Model {model_version} · backtest {seasons} ({model['races']} races, walk-forward): after qualifying "
            f"it picks the winner {pct(model['winner_top1'])} of the time vs {pct(grid['winner_top1'])} for "
            f"'pole sitter wins'; ±{(hi - lo) / 2 * 100:.0f} points uncertainty (90% interval)")
    pre = summary["modes"].get(PRE, {})
    if mode_now == PRE and pre.get("model") and pre.get("baselines", {}).get("form"):
        line += (f"; before qualifying, as now: {pct(pre['model']['winner_top1'])} vs "
                 f"{pct(pre['baselines']['form']['winner_top1'])} for 'best recent form wins'")
    return line + "."


@st.cache_data(show_spinner=False, max_entries=16)
def latest_backtest_summary(db_path: str, backtest_id: int) -> dict | None:
    latest = get_engine().records.latest_backtest()
    return None if latest is None else latest["summary"]


@st.cache_data(show_spinner=False, ttl=600, max_entries=16)
def last_race_call(db_path: str, data_version: int, backtest_id: int, season: int, round_: int) -> tuple:
    """(RaceCall or None, where the prediction comes from) for a race with results: the
    prediction frozen before its start, else the walk-forward backtest's prediction."""
    engine, store = get_engine(), get_store()
    frozen = engine.records.frozen_prediction(engine.race(season, round_))
    if not frozen.empty:
        row = frozen.iloc[0]
        mode = MODE_LABEL[row["mode"]].lower()
        source = (f"the prediction this app published before the start ({mode}, model {row['model_version']}, "
                  f"frozen {row['logged_at']:%-d %b %H:%M} UTC)")
        return racecards.race_call(store, season, round_, frozen), source
    latest = engine.records.latest_backtest()
    if latest is not None:
        bt = engine.records.backtest_predictions(latest["run_id"], season, round_)
        bt = bt[(bt["mode"] == POST) & (bt["predictor"] == "model")]
        if not bt.empty:
            source = ("the walk-forward backtest (after qualifying, by a model trained only on earlier races); "
                      "no prediction was published before this race")
            return racecards.race_call(store, season, round_, bt), source
    return None, None


def card(key: str, label: str, value: str, note: str | None = None, help: str | None = None) -> None:
    """A compact figure with its label, in a bordered box that wraps two to a row on a phone
    (st.metric's large type cuts long names short)."""
    with st.container(border=True, width="stretch", height="stretch", gap="xxsmall", key=f"overview_{key}"):
        st.caption(label, help=help)
        st.subheader(value, anchor=False)
        if note:
            st.caption(note)


def page_link(filename: str, label: str, icon: str) -> None:
    """A link to another page of the app, when that page exists and the router registered it
    (a page run on its own, as in tests, has no router)."""
    if not (PAGES_DIR / filename).is_file():
        return
    try:
        st.page_link(f"pages/{filename}", label=label, icon=icon)
    except StreamlitPageNotFoundError:
        pass


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


# -- the page -----------------------------------------------------------------------------------

if get_store().is_empty():
    st.title("F1 Predictions")  # the race it would show is not known yet
store = require_data(full=True)
settings = get_settings()
data_version = store.data_version()

upcoming = get_engine().upcoming_races(1)
race = upcoming[0] if upcoming else None
prediction = None

# the race itself is known without a model: say which and when before anything else
if race is None:
    st.title("Overview")
else:
    circuit = cached_query(racecards.circuit, race.circuit_ref)
    st.caption(f"Next race · round {race.round} of {race.season}")
    st.title(race.name)
    if circuit is not None:
        st.markdown(f":material/location_on: {circuit.name} · {circuit.place}")
    start = race.start_utc
    when = racecards.start_text(start, race.time is not None, circuit, day_format="%A %-d %B %Y")
    track_clock = circuit.local_time(start) if circuit is not None and race.time else None
    local = viewer_time(start, track_clock) if race.time else None
    st.markdown(f":material/schedule: {when}" + (f" · {local}" if local else ""))

engine = require_model()
model_fallback_notice(engine)  # the champion's file cannot be loaded: say which model is served instead
champion = engine.registry.champion_version() or ""
if (behind := engine.behind_baseline()) is not None:
    st.warning(f"**The model is behind its baseline lately.** {behind}", icon=":material/trending_down:")

if race is None:
    st.info("There is no upcoming race in the calendar yet. The next season's calendar arrives with the "
            "background refresh once it is published.", icon=":material/event_busy:")
else:
    try:
        prediction = race_prediction(race.season, race.round)
    except Exception as exc:
        friendly_error(exc, f"predict the {race.name}")

    if prediction is not None:
        table = prediction.table
        fav = prediction.favourite
        before = prediction.mode == PRE

        @st.fragment(run_every=60)
        def headline_cards() -> None:
            """The countdown ticks every minute; the other cards are redrawn with it so the four
            boxes keep one height."""
            now = clock.now(settings.today)
            with st.container(horizontal=True, wrap=True, gap="small"):
                card("countdown", "Lights out in", countdown_text(start, now),
                     f"{track_clock:%a %-d %b, %H:%M} local time" if track_clock else f"{start:%a %-d %b, %H:%M} UTC",
                     help="Until the race start; updates every minute."
                          + ("" if race.time else " The start time is not announced yet: counted to 12:00 UTC."))
                colour = team_color(fav["constructor_ref"])
                card("favourite", "Favourite", f":color[{fav['driver_name']}]{{foreground=\"{colour}\"}}",
                     fav["team_name"], help="The driver with the highest chance to win in the model's simulations.")
                card("win_chance", "Chance to win", pct(fav["p_win"]), f"baseline {pct(fav['baseline_p_win'])}",
                     help=f"Beside it, the win chance of {BASELINE_SHORT[fav['baseline']]}.")
                card("grid_used", "Grid used", "predicted" if before else "qualifying",
                     "before qualifying" if before else "after qualifying",
                     help="Before qualifying the race model starts from the qualifying model's predicted grid; "
                          "after qualifying, from the qualifying order (grid penalties announced after it are "
                          "not applied).")

        headline_cards()

        if before:
            quali = cached_query(racecards.qualifying_start, race.season, race.round)
            quali_when = (f" (qualifying: {racecards.start_text(*quali, circuit, day_format='%a %-d %b')})"
                          if quali else "")
            st.markdown(f"**Before qualifying.** The grid is the qualifying model's prediction{quali_when}; "
                        "the chances sharpen once the real grid is known.")
        else:
            st.markdown(f"**After qualifying.** {QUALIFYING_ORDER}")

        win_col, podium_col = st.columns(2)
        with win_col:
            st.markdown("**Top contenders: chance to win**")
            show_chart(probability_bars(table, "p_win", top=5, baseline=table["baseline_p_win"], height=290),
                       key="overview_win_chart")
        with podium_col:
            st.markdown("**Chance of a podium**")
            show_chart(probability_bars(table, "p_podium", top=5, baseline=table["baseline_p_podium"], height=290),
                       key="overview_podium_chart")
        st.caption(f"Coloured bars: the model. Thin grey bars: {BASELINE_SHORT[table['baseline'].iloc[0]]}, the "
                   "yardstick the model has to beat. Chances come from simulating the race thousands of times.")
        why_favourite(table, race.season, race.round, before, key="overview_why")
        page_link("upcoming.py", "Every driver, qualifying and the next three races", ":material/arrow_forward:")

# one line on how good the model has really been, beside its baseline
try:
    summary = latest_backtest_summary(str(store.path), engine.records.latest_backtest_id())
    line = accuracy_line(summary, champion, prediction.mode if prediction is not None else "") if summary else ""
    if line:
        st.markdown(f":material/target: {line}")
    else:
        when = ("is running one now" if get_refresher().running
                else "runs one after the next data refresh")
        st.markdown(f":material/target: Model {champion}. No backtest yet: the background upkeep {when}, and "
                    "the model's honest (walk-forward) accuracy appears here.")
except Exception as exc:
    friendly_error(exc, "read the model's backtest")

# the last race: who won, and whether the model called it
try:
    last = engine.recent_races(1)
    if last:
        last = last[0]
        call, source = last_race_call(str(store.path), data_version, engine.records.latest_backtest_id(), last.season,
                                      last.round)
        with st.container(border=True):
            st.markdown(f"**Last race: {last.name}** · {last.date:%-d %B %Y}")
            if call is not None:
                grid = {None: "", 0: ", from the pit lane", 1: ", from pole"}.get(
                    call.winner_grid, f", from P{call.winner_grid} on the grid")
                st.markdown(f":material/trophy: Won by **{call.winner_name}** ({call.winner_team}){grid}.")
                if call.called:
                    st.markdown(f":material/check_circle: **The model called it**: {call.winner_name} was its "
                                f"favourite at {pct(call.winner_p_win)}.")
                else:
                    favourite_pct, winner_pct = pcts(call.favourite_p_win, call.winner_p_win)
                    st.markdown(f":material/cancel: **The model missed it**: its favourite was "
                                f"{call.favourite_name} ({favourite_pct}); the winner was its "
                                f"{ordinal(call.winner_pick)} pick at {winner_pct}.")
                st.caption(f"{call.podium_hits} of the 3 podium finishers {'was' if call.podium_hits == 1 else 'were'} "
                           "among its 3 likeliest podium "
                           f"finishers. Prediction: {source}.")
            else:
                top = cached_query(racecards.podium, last.season, last.round)
                if not top.empty:
                    w = top.iloc[0]
                    st.markdown(f":material/trophy: Won by **{w['driver_name']}** ({w['team_name']}).")
                st.caption("There is no out-of-sample prediction of this race yet (none was published before "
                           "it and the backtest does not cover it).")
            page_link("past_races.py", "Every past race, predicted vs actual", ":material/history:")
except Exception as exc:
    friendly_error(exc, "show the last race")

# freeze what users were shown, after the page is drawn
if prediction is not None:
    freeze_shown_predictions()
