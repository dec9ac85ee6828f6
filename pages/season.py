"""Season: who takes the title. Championship odds from simulated rest-of-seasons, the title odds
through the season, clinch scenarios, a what-if on the next race, and the whole calendar."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from f1core.engine.season import SEASON_SIMS, Condition, clinch_words, first_replayable_season
from f1core.names import plural
from f1core.views import season as season_view
from pages._resources import cached_query, champion_version, get_engine, latest_season_replay
from pages._style import pct, show_chart, style_figure, team_color
from pages._widgets import (
    LinkChoices,
    escape_markdown,
    friendly_error,
    progress_status,
    require_admin,
    require_data,
    require_model,
    show_table,
)

P = "season_"
SECTIONS = ["Drivers", "Constructors", "Through the season", "What if", "Calendar"]


@st.cache_data(show_spinner=False, max_entries=24)
def calendar_table(db_path: str, data_version: int, champion: str, season: int, after_round: int,
                   day: object) -> pd.DataFrame:
    """`day`: today, so a race whose date has passed stops reading "coming" without new data."""
    engine = get_engine()
    return season_view.calendar(engine, engine.season_outlook(season, after_round))


def outlook_for(season: int, after_round: int | None, condition: Condition | None = None):
    with st.spinner(f"Simulating the rest of {season} {SEASON_SIMS:,} times…"):
        return get_engine().season_outlook(season, after_round, condition)


def band_chart(table: pd.DataFrame, top: int = 12) -> go.Figure:
    """Points now, expected final points and the P10-P90 band of the leading drivers or teams."""
    t = table.head(top).iloc[::-1]
    colours = [team_color(c) for c in t["constructor_ref"]]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=t["points_p90"] - t["points_p10"], base=t["points_p10"], y=t["label"], orientation="h",
                         marker_color=colours, opacity=0.35, name="P10–P90 of final points",
                         customdata=t[["points_p10", "points_p90"]].to_numpy(),
                         hovertemplate="8 seasons in 10 end between %{customdata[0]:.0f} and "
                                       "%{customdata[1]:.0f} points<extra></extra>"))
    fig.add_trace(go.Scatter(x=t["points_expected"], y=t["label"], mode="markers", name="expected",
                             marker=dict(color=colours, size=11, line=dict(width=1, color="#111")),
                             hovertemplate="expected %{x:.0f} points<extra></extra>"))
    fig.add_trace(go.Scatter(x=t["points_now"], y=t["label"], mode="markers", name="now",
                             marker=dict(symbol="line-ns-open", size=14, color="#E8EAED", line=dict(width=2)),
                             hovertemplate="%{x:g} points now<extra></extra>"))
    fig.update_xaxes(title="points", rangemode="tozero")
    fig.update_yaxes(type="category")
    return style_figure(fig, height=max(300, 30 * len(t) + 90))


def position_heatmap(positions: pd.DataFrame, labels: list[str], top: int = 10) -> go.Figure:
    """Chance of each final championship position for the leading drivers or teams."""
    shown = positions.iloc[:top, :top]
    z = shown.to_numpy() * 100
    fig = go.Figure(go.Heatmap(
        z=z, x=[f"P{c}" for c in shown.columns], y=labels[:top], zmin=0, zmax=100,
        # opaque from the page's own dark upwards, so a small chance never looks brighter than a larger one
        colorscale=[[0, "#1F1F2B"], [0.02, "#3a1d1f"], [1, "#E10600"]],
        text=[[f"{v:.0f}" if v >= 0.5 else "" for v in row] for row in z], texttemplate="%{text}",
        hovertemplate="%{y} ends the season %{x}: %{z:.1f}%<extra></extra>", colorbar=dict(title="%", thickness=10)))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category")
    return style_figure(fig, height=max(300, 32 * len(shown) + 90))


def history_chart(history: pd.DataFrame, labels: dict[str, str], colours: dict[str, str]) -> go.Figure:
    """One line per contender in team colours; a line whose colour is taken already (a teammate) is
    dotted, so the two cars of a team can be told apart."""
    fig = go.Figure()
    taken: set[str | None] = set()
    for ref, g in history.groupby("ref", sort=False):
        colour = colours.get(ref)
        dash = "dot" if colour in taken else "solid"
        taken.add(colour)
        fig.add_trace(go.Scatter(
            x=g["after_round"], y=g["p_title"], mode="lines+markers", name=labels.get(ref, ref),
            line=dict(color=colour, width=2.5, dash=dash), marker=dict(size=7),
            customdata=np.c_[g["source"]],
            hovertemplate=f"{labels.get(ref, ref)} after round %{{x}}: %{{y:.0%}} (%{{customdata[0]}})<extra></extra>"))
    fig.update_xaxes(title="after round", dtick=1 if history["after_round"].max() <= 12 else 2, rangemode="tozero")
    fig.update_yaxes(title="title chance", tickformat=".0%", range=[0, 1.02])
    return style_figure(fig, height=380)


# -- the page -------------------------------------------------------------------------------------

st.title("Season")
st.caption("Who takes the title: the rest of the season simulated race by race, sprints included, from the "
           "race model's chances, with each car's pace allowed to drift over the months to come.")
store = require_data()
engine = require_model()

seasons = cached_query(season_view.seasons_to_show)
if not seasons:
    st.info("No season has results yet.")
    st.stop()
link = LinkChoices()
asked = link.get("season", seasons, int, unusable=f"has no results here; showing {seasons[0]}")
link.warn()
season_col, round_col = st.columns(2)
season = season_col.selectbox("Season", seasons, index=seasons.index(asked) if asked in seasons else 0,
                              key=P + "season")
last = int(store.scalar("SELECT coalesce(max(round), 0) FROM results WHERE season = ?", [season]) or 0)
rounds_total = int(store.scalar("SELECT max(round) FROM races WHERE season = ?", [season]) or last)
first_replay = first_replayable_season(engine.config)
replayable = season >= first_replay
too_early = f"replays start in {first_replay}, the models learning from too few seasons before that"
choices = list(range(last, -1, -1)) if replayable else [last]
after_round = round_col.selectbox(
    "As of", choices, key=P + f"after_{season}",
    format_func=lambda r: ("the latest result" if r == last else "before the season" if r == 0 else f"after round {r}")
    + (f" (round {r} of {rounds_total})" if r == last and r else ""),
    help="A past round is replayed with models trained only on the races before the next one: what the app "
         "would have said then." + ("" if replayable else f" Only the final standings of {season} are shown: "
                                    f"{too_early}."))
link.rewrite({"season": str(season)})

try:
    outlook = outlook_for(season, after_round)
except Exception as exc:
    friendly_error(exc, f"simulate the {season} season")
    st.stop()

drivers = season_view.named(outlook.drivers, store)
drivers["label"] = drivers["code"].where(~drivers["excluded"], drivers["code"] + " (excluded)")
teams = season_view.named(outlook.constructors, store)
teams["label"] = teams["team_name"].where(~teams["excluded"], teams["team_name"] + " (excluded)")
names = dict(zip(drivers["driver_ref"], drivers["driver_name"]))
done = outlook.complete

lead, team_lead = drivers.iloc[0], teams.iloc[0]
with st.container(horizontal=True, wrap=True, gap="small"):
    for label, value, note in (
        ("Drivers' title" if not done else "Champion", lead["driver_name"],
         f"{pct(lead['p_title'])} · {lead['points_now']:g} pts now" if not done else f"{lead['points_now']:g} points"),
        ("Constructors' title" if not done else "Constructors' champion", team_lead["team_name"],
         f"{pct(team_lead['p_title'])} · {team_lead['points_now']:g} pts now" if not done
         else f"{team_lead['points_now']:g} points"),
        ("Still to race", f"{len(outlook.weekends)} weekends",
         f"{int(outlook.remaining['sprint'].sum())} with a sprint · {outlook.max_points_left:g} pts per driver at most")
        if not done else ("Season", f"{plural(last, 'race')}", "complete"),
    ):
        with st.container(border=True, width="stretch", gap="xxsmall"):
            st.caption(label)
            st.subheader(value, anchor=False)
            st.caption(note)
words = clinch_words(outlook, names)
if words:
    st.markdown(f":material/flag: {words}")
if not done:  # a favourite who trails the table looks wrong until the points still to come are seen
    for table, name, short in ((drivers, "driver_name", "code"), (teams, "team_name", "team_name")):
        shown = table.assign(name=table[name].map(escape_markdown), short=table[short].map(escape_markdown))
        behind = season_view.favourite_behind_leader(shown, "name", len(outlook.weekends), short="short")
        if behind:
            st.markdown(f":material/trending_up: {behind}")
source = (f"model {outlook.model_version}" if after_round == last
          else f"a replay with models {outlook.model_version}")
if done:
    st.caption("The final standings, from the season's results; where points and wins tie, and for anyone "
               "excluded from the championship, the order is the official table's.")
else:
    st.caption(f"{outlook.n_sims:,} simulated seasons, {source}. The bands say where 8 seasons in 10 end; they "
               "widen with the races left because a car's pace can change (the drift was set on the 2010–2021 "
               "seasons so that about four final tallies in five fall inside them, as past seasons show).")
    replay = latest_season_replay()
    record = season_view.title_track_record(None if replay is None else replay[1], after_round, rounds_total)
    if record:
        st.caption(f":material/history: {record} The Accuracy page's Championship tab has the details.")

section = st.segmented_control("Show", SECTIONS, default=SECTIONS[0], key=P + "section", label_visibility="collapsed")

if section in ("Drivers", "Constructors"):
    table, positions, key = ((drivers, outlook.driver_positions, "driver_ref") if section == "Drivers"
                             else (teams, outlook.constructor_positions, "constructor_ref"))
    # few narrow columns, so the table reads whole on a phone; the CSV has every figure on its own
    table = table.assign(pos=range(1, len(table) + 1), title=[pct(p) for p in table["p_title"]], final=[
        f"{now:g}" if done else f"{now:g} → {exp:.0f} ({lo:.0f}–{hi:.0f})" for now, exp, lo, hi in
        zip(table["points_now"], table["points_expected"], table["points_p10"], table["points_p90"])])
    show_table(table, f"season_{season}_after_r{after_round}_{section.lower()}.csv",
               # a finished season has no chances to show: its place and wins instead
               columns=["pos", "label", "final", "wins_now"] if done else ["label", "title", "final"],
               column_config={
                   "pos": st.column_config.NumberColumn("pos", width="small", pinned=True),
                   "label": st.column_config.TextColumn("driver" if section == "Drivers" else "team", pinned=True),
                   "title": st.column_config.TextColumn("title", help="Chance to be champion"),
                   "wins_now": st.column_config.NumberColumn("wins"),
                   "final": st.column_config.TextColumn(
                       "points" if done else "points: now → expected (P10–P90)", width="small" if done else "large",
                       help=None if done else "Points now, expected final points, and the range 8 simulated "
                                              "seasons in 10 end in")})
    if not done:
        left, right = st.columns(2, gap="medium")
        with left:
            st.markdown("**Final points: now, expected and the likely range**")
            show_chart(band_chart(table), key=P + f"bands_{section}")
        with right:
            st.markdown("**Where they finish the championship (%)**")
            show_chart(position_heatmap(positions, list(table["label"])), key=P + f"heat_{section}")

elif section == "Through the season":
    kind = st.radio("Championship", ["driver", "constructor"], horizontal=True, key=P + "history_kind",
                    format_func=lambda k: "Drivers" if k == "driver" else "Constructors")
    try:
        history = season_view.title_history(engine, season, kind)
    except Exception as exc:
        friendly_error(exc, "read the title odds through the season")
        history = pd.DataFrame()
    have = set(history["after_round"]) if not history.empty else set()
    missing = [r for r in range(0, last + 1) if r not in have]
    if not history.empty:
        label_of = (dict(zip(drivers["driver_ref"], drivers["code"])) if kind == "driver"
                    else dict(zip(teams["constructor_ref"], teams["team_name"])))
        colour_of = (dict(zip(drivers["driver_ref"], map(team_color, drivers["constructor_ref"]))) if kind == "driver"
                     else {c: team_color(c) for c in teams["constructor_ref"]})
        show_chart(history_chart(history, label_of, colour_of), key=P + "history_chart")
        st.caption("Each point is the title chance right after that round, from what was known then: kept as the "
                   "app showed it ('frozen'), or replayed later with models trained only on the races before "
                   "('replay'). Hover a point to see which.")
    if missing and not replayable:
        st.info(f"The title odds through {season} cannot be replayed: {too_early}.", icon=":material/history:")
    elif missing:
        rounds = [r for r in missing if r]
        when = " and ".join((["before the season"] if 0 in missing else [])
                            + ([f"after {plural(len(rounds), 'round')}"] if rounds else []))
        st.info(f"The title odds {when} of {season} are not kept yet. The background upkeep "
                "fills the season in progress; any season can be replayed here (a few seconds a round).",
                icon=":material/history:")
        if require_admin("replay the season", key=P + "replay"):
            if st.button(f"Replay {season} round by round", key=P + "replay_button", icon=":material/replay:"):
                with progress_status(f"Replaying {season}…") as (status, progress):
                    try:
                        for i, rnd in enumerate(missing):
                            progress(f"title odds after round {rnd}", i / len(missing))
                            engine.records.add_season_odds(engine.season_outlook(season, rnd),
                                                           "frozen" if (rnd == last and season == seasons[0])
                                                           else "replay")
                        status.update(label=f"{season} replayed", state="complete")
                    except Exception as exc:
                        status.update(label="The replay failed", state="error")
                        friendly_error(exc, f"replay {season}")
                st.rerun()

elif section == "What if":
    if done:
        st.info(f"The {season} season is over: there is no race left to play with.")
    else:
        nxt = outlook.weekends[0]
        field = [d for d in drivers["driver_ref"] if d in set(nxt.drivers)]
        label = lambda d: f"{drivers.set_index('driver_ref').loc[d, 'code']} · {names.get(d, d)}"  # noqa: E731
        st.markdown(f"**What if at the {nxt.name} (round {nxt.round})…**")
        cols = st.columns(3)
        picks = []
        for place, col in zip(("wins", "is second", "is third"), cols):
            options = [None] + [d for d in field if d not in picks]
            pick = col.selectbox(f"… {place}", options, key=P + f"whatif_{place}",
                                 format_func=lambda d: "anyone" if d is None else label(d))
            if pick is None:
                break
            picks.append(pick)
        if not picks:
            st.caption("Choose the winner (and, if you like, the rest of the podium) of the next race to see how "
                       "the title odds move. The sprint and every later race stay as the model sees them.")
        else:
            changed = outlook_for(season, after_round, Condition(nxt.round, tuple(picks)))
            before = outlook.drivers.set_index("driver_ref")
            after = changed.drivers.set_index("driver_ref")
            moved = pd.DataFrame({"code": drivers.set_index("driver_ref")["code"],
                                  "title_before": before["p_title"], "title_now": after["p_title"],
                                  "expected_now": after["points_expected"]}).dropna(subset=["title_now"])
            moved["change"] = moved["title_now"] - moved["title_before"]
            moved = moved.sort_values("title_now", ascending=False).head(8).reset_index()
            show_table(moved, f"season_{season}_what_if.csv", columns=["code", "title_now", "change", "title_before",
                                                                       "expected_now"],
                       column_config={"code": st.column_config.TextColumn("driver", pinned=True),
                                      "title_now": st.column_config.NumberColumn("title", format="percent"),
                                      "change": st.column_config.NumberColumn("Δ", format="percent"),
                                      "title_before": st.column_config.NumberColumn("as it is", format="percent"),
                                      "expected_now": st.column_config.NumberColumn("expected pts", format="%.0f")})
            cw = clinch_words(changed, names)
            st.caption("Δ: change of title chance against the season as it is. " + (cw or ""))

else:  # the calendar
    try:
        cal = calendar_table(str(store.path), store.data_version(), champion_version() or "", season, after_round,
                             get_engine().today())
    except Exception as exc:
        friendly_error(exc, "draw the calendar")
        st.stop()
    rows = []
    for r in cal.itertuples(index=False):
        when = f"{pd.Timestamp(r.date):%a %-d %b}"
        sprint_winner = getattr(r, "sprint_winner", None)
        sprint_fav = getattr(r, "sprint_favourite", None)
        if r.state == "result":
            what = f"🏆 {r.winner}" + (f" · favourite {r.favourite} {pct(r.p_win)} {'✓' if r.called else '✗'}"
                                       if isinstance(r.favourite, str) else " · no prediction")
            if isinstance(sprint_winner, str):
                what += f" · sprint won by {sprint_winner}"
        elif r.state == "coming":
            what = f"{r.favourite} {pct(r.p_win)} to win · podium {r.podium}" if isinstance(r.favourite, str) else ""
            if isinstance(sprint_fav, str):
                what += f" · sprint: {sprint_fav} {pct(r.sprint_p_win)}"
        else:
            what = "result not in the store yet"
        rows.append({"round": r.round, "date": when, "race": r.name.replace(" Grand Prix", " GP"),
                     "sprint": "sprint" if r.sprint else "", "outlook": what, "source": getattr(r, "source", None)})
    show_table(pd.DataFrame(rows), f"season_{season}_calendar.csv", columns=["round", "date", "race", "sprint", "outlook"],
               column_config={"round": st.column_config.NumberColumn("rd", format="%d", width="small"),
                              "date": st.column_config.TextColumn("date", width="small"),
                              "race": st.column_config.TextColumn("race", pinned=True),
                              "sprint": st.column_config.TextColumn("", width="small"),
                              "outlook": st.column_config.TextColumn("result / favourite", width="large")},
               height="content")
    st.caption("Past races: the winner, and the favourite of the prediction frozen before the race (✓ he won, ✗ he "
               "did not; the walk-forward backtest where nothing was frozen). Coming races: chances from the "
               "season simulation, before qualifying, where each car's pace may drift in the weeks to come; the "
               "Upcoming races page predicts each race as things stand today, so its chances differ a little. "
               "Dates are the race day at the track.")
