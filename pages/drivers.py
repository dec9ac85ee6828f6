"""Drivers & teams: standings, Elo ratings through a season, recent form and teammate duels."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from f1core.engine.features import HISTORY_FROM
from f1core.views import insights
from f1core.views.terms import RESULT_MARKS
from pages._resources import cached_frame_query, cached_query
from pages._style import show_chart, style_figure, team_color
from pages._widgets import friendly_error, require_data, show_table

st.title("Drivers & teams")
require_data()

seasons = cached_query(insights.seasons_with_results)
season = st.selectbox("Season", seasons, index=0, key="drivers_season",
                      help="Seasons with at least one race result, newest first.")

standings_tab, ratings_tab, form_tab, teammates_tab = st.tabs(
    ["Standings", "Ratings", "Recent form", "Teammates"])


def rating_chart(history: pd.DataFrame, who: str) -> go.Figure:
    """One line per driver (his strength: car and driver together) or per car, in team colours; a
    team's second driver is dotted so teammates can be told apart."""
    fig = go.Figure()
    latest = history[history["round"] == history["round"].max()]
    if who == "drivers":
        latest = latest.sort_values("strength", ascending=False)
        dash = latest.groupby("constructor_ref").cumcount().map({0: "solid"}).fillna("dot")
        for (_, info), line in zip(latest.iterrows(), dash):
            rows = history[history["driver_ref"] == info["driver_ref"]]
            fig.add_trace(go.Scatter(
                x=rows["round"], y=rows["strength"], name=info["code"], mode="lines+markers",
                line=dict(color=team_color(info["constructor_ref"]), dash=line, width=2.5), marker=dict(size=5),
                customdata=rows[["driver", "team_name", "race", "car_rating", "driver_rating"]],
                hovertemplate="<b>%{customdata[0]}</b> (%{customdata[1]})<br>after %{customdata[2]}: %{y:.1f} "
                              "(car %{customdata[3]:.1f}, driver %{customdata[4]:+.1f})<extra></extra>"))
        title = "strength: car + driver"
    else:
        cars = history.drop_duplicates(["round", "constructor_ref"])
        for ref, info in latest.drop_duplicates("constructor_ref").sort_values("car_rating", ascending=False).set_index(
                "constructor_ref").iterrows():
            rows = cars[cars["constructor_ref"] == ref]
            fig.add_trace(go.Scatter(
                x=rows["round"], y=rows["car_rating"], name=info["team_name"], mode="lines+markers",
                line=dict(color=team_color(ref), width=3), marker=dict(size=6),
                customdata=rows[["team_name", "race"]],
                hovertemplate="<b>%{customdata[0]}</b><br>after %{customdata[1]}: %{y:.1f}<extra></extra>"))
        title = "car rating"
    rounds = history.drop_duplicates("round")
    fig.update_xaxes(tickvals=rounds["round"], ticktext=[f"R{r}" for r in rounds["round"]], title=None,
                     showgrid=False)
    fig.update_yaxes(title=title)
    return style_figure(fig, height=500)


def standings_columns(name: str, leader: float, name_width: int | None = None) -> dict:
    """A championship table's columns: place and name pinned, so on a phone they stay in view while
    points and wins (narrow enough to fit beside them) scroll."""
    return {"pos": st.column_config.NumberColumn("pos", width=40, pinned=True),
            name: st.column_config.TextColumn(width=name_width, pinned=True),
            "points": st.column_config.ProgressColumn("points", format="%g", min_value=0, max_value=leader, width=110),
            "wins": st.column_config.NumberColumn(width=50)}


with standings_tab:
    try:
        table = cached_query(insights.standings, season)
        if table is None:
            st.info(f"No championship standings are recorded for {season}.")
        else:
            st.caption(f"After round {table.round}, {table.race_name}.")
            drivers_col, teams_col = st.columns([3, 2])
            with drivers_col:
                st.markdown("**Drivers**")
                leader = float(table.drivers["points"].max() or 1)
                show_table(table.drivers, f"driver_standings_{season}.csv",
                           columns=["pos", "driver", "points", "wins", "team"], height="content",
                           column_config=standings_columns("driver", leader, name_width=150))
            with teams_col:
                st.markdown("**Constructors**")
                if table.constructors.empty:
                    st.info(f"There was no constructors' championship in {season} (it began in 1958).")
                else:
                    leader = float(table.constructors["points"].max() or 1)
                    show_table(table.constructors, f"constructor_standings_{season}.csv",
                               columns=["pos", "team", "points", "wins"], height="content",
                               column_config=standings_columns("team", leader))
    except Exception as exc:
        friendly_error(exc, "load the standings")

with ratings_tab:
    if season < HISTORY_FROM:
        st.info(f"Ratings are computed from the {HISTORY_FROM} season on. Pick a later season to see them.")
    else:
        try:
            history = cached_frame_query(insights.rating_history, season)
            if history.empty:
                st.info(f"No race of {season} has results yet.")
            else:
                last = history[history["round"] == history["round"].max()]
                st.caption(f"After {last['race'].iloc[0]}. The car's rating comes from its qualifying and race "
                           "pace this season, the driver's from how he compares with his teammates; both are "
                           "points on one scale (0 = the field's average), and a driver's strength is the two "
                           "together. Over each winter a car's rating is pulled towards the field, strongly when "
                           "the rules change (2009, 2014, 2017, 2022, 2026): last year's car says little then. A "
                           "driver's rating is his whole career against every teammate he had, so a few races move "
                           "it only a little: a young driver beating a proven teammate climbs over a season, not "
                           "a weekend.")
                show_table(last, f"ratings_{season}_after_r{int(last['round'].iloc[0])}.csv",
                           columns=["rank", "code", "strength", "car_rating", "driver_rating", "team_name"],
                           column_config={"rank": st.column_config.NumberColumn("#", width=40, pinned=True),
                                          "code": st.column_config.TextColumn("driver", width=56, pinned=True),
                                          "strength": st.column_config.NumberColumn("strength", format="%.1f"),
                                          "car_rating": st.column_config.NumberColumn(
                                              "car", format="%.1f", help="The car's rating"),
                                          "driver_rating": st.column_config.NumberColumn(
                                              "skill", format="%+.1f",
                                              help="The driver's own rating: against an average driver in the "
                                                   "same car"),
                                          "team_name": "team"},
                           height="content")
                who = st.segmented_control("Show over the season", ["drivers", "teams"], default="drivers",
                                           key="drivers_rating_view", format_func=str.capitalize, required=True)
                show_chart(rating_chart(history, who), key="rating_chart")
                st.caption("Click a name in the legend to hide its line, double-click to show it alone. A team's "
                           "second driver is dotted.")
        except Exception as exc:
            friendly_error(exc, "compute the ratings")

with form_tab:
    try:
        form = cached_query(insights.recent_form, season, 5)
        if form.table.empty:
            st.info(f"No race results for {season}.")
        else:
            st.caption(f"Finishing positions in the last {len(form.races)} races of {season} ({RESULT_MARKS}; "
                       "empty = did not take part). Points over those races, sprints included.")
            show_table(form.table, f"recent_form_{season}.csv", height="content",
                       columns=["code", *form.races, "points", "driver", "team"],
                       column_config={"code": st.column_config.TextColumn("driver", width="small"),
                                      "driver": "name",
                                      "points": st.column_config.NumberColumn(format="%g")})
    except Exception as exc:
        friendly_error(exc, "load the recent form")

with teammates_tab:
    try:
        duels = cached_query(insights.teammate_head_to_head, season)
        if duels.empty:
            st.info(f"No race results for {season}.")
        else:
            faster = [
                "—" if pd.isna(gap) else f"{b if gap < 0 else a} by {abs(gap):.3f} s ({abs(pct):.2f}%)"
                for a, b, gap, pct in zip(duels["driver_a"], duels["driver_b"], duels["gap_s"], duels["gap_pct"])
            ]
            duels = duels.assign(
                qualifying=[f"{a}–{b}" if pd.notna(a) else "—" for a, b in zip(duels["quali_a"], duels["quali_b"])],
                race=[f"{a}–{b}" for a, b in zip(duels["race_a"], duels["race_b"])],
                faster=faster,
                pairing=[f"{a} v {b}" for a, b in zip(duels["driver_a"], duels["driver_b"])],
            )
            st.caption("Teammates who raced for the same team. **Qualifying**: who was ahead on the "
                       "qualifying sheet. **Race**: who finished ahead when both were classified. "
                       "**Quicker in qualifying**: median gap in the last session both set a time in "
                       "(Q3, else Q2, else Q1). Driver A is the one placed higher in the championship."
                       + (" The sources have qualifying sessions from 1994 on." if duels["quali_a"].isna().all() else ""))
            show_table(duels, f"teammates_{season}.csv", height="content",
                       columns=["team", "pairing", "races", "qualifying", "race", "faster"],
                       column_config={"pairing": "A v B", "faster": "quicker in qualifying"})
    except Exception as exc:
        friendly_error(exc, "compare teammates")
