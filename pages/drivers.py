"""Drivers & teams: standings, Elo ratings through a season, recent form and teammate duels."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from f1core.engine.features import HISTORY_FROM
from f1core.views import insights
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
    """One line per driver (or team) in its team colour; a team's second driver is dotted so
    teammates can be told apart. Rounds on the x axis ("R5 next" is the race ahead), race names
    in the hover."""
    fig = go.Figure()
    if who == "drivers":
        latest = history.sort_values("round").groupby("driver_ref").last()
        latest = latest.sort_values("drv_elo", ascending=False)
        latest["dash"] = latest.groupby("constructor_ref").cumcount().map({0: "solid"}).fillna("dot")
        for driver_ref, info in latest.iterrows():
            rows = history[history["driver_ref"] == driver_ref]
            fig.add_trace(go.Scatter(
                x=rows["round"], y=rows["drv_elo"], name=info["code"], mode="lines+markers",
                line=dict(color=team_color(info["constructor_ref"]), dash=info["dash"], width=2.5),
                marker=dict(size=5),
                customdata=rows[["driver", "team_name", "race"]],
                hovertemplate="<b>%{customdata[0]}</b> (%{customdata[1]})<br>"
                              "before %{customdata[2]}: %{y:.0f}<extra></extra>",
            ))
    else:
        teams = history.drop_duplicates(["round", "team"])
        latest = teams.sort_values("round").groupby("team").last().sort_values("team_elo", ascending=False)
        for team, info in latest.iterrows():
            rows = teams[teams["team"] == team]
            fig.add_trace(go.Scatter(
                x=rows["round"], y=rows["team_elo"], name=info["team_name"], mode="lines+markers",
                line=dict(color=team_color(info["constructor_ref"]), width=3), marker=dict(size=6),
                customdata=rows[["team_name", "race"]],
                hovertemplate="<b>%{customdata[0]}</b><br>before %{customdata[1]}: %{y:.0f}<extra></extra>",
            ))
    rounds = history.drop_duplicates("round")
    fig.update_xaxes(tickvals=rounds["round"],
                     ticktext=[f"R{r}" if done else f"R{r} next" for r, done in zip(rounds["round"], rounds["has_result"])],
                     title=None, showgrid=False)
    fig.update_yaxes(title="Elo rating")
    return style_figure(fig, height=540)


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
                           column_config={"pos": st.column_config.NumberColumn("Pos", width=40),
                                          "driver": st.column_config.TextColumn(width=170),
                                          "points": st.column_config.ProgressColumn(
                                              "Points", format="%g", min_value=0, max_value=leader, width=130),
                                          "wins": st.column_config.NumberColumn(width="small")})
            with teams_col:
                st.markdown("**Constructors**")
                if table.constructors.empty:
                    st.info(f"There was no constructors' championship in {season} (it began in 1958).")
                else:
                    leader = float(table.constructors["points"].max() or 1)
                    show_table(table.constructors, f"constructor_standings_{season}.csv",
                               columns=["pos", "team", "points", "wins"], height="content",
                               column_config={"pos": st.column_config.NumberColumn("Pos", width=40),
                                              "points": st.column_config.ProgressColumn(
                                                  "Points", format="%g", min_value=0, max_value=leader, width=130),
                                              "wins": st.column_config.NumberColumn(width="small")})
    except Exception as exc:
        friendly_error(exc, "load the standings")

with ratings_tab:
    if season < HISTORY_FROM:
        st.info(f"Ratings are computed from the {HISTORY_FROM} season on. Pick a later season to see them.")
    else:
        try:
            history = cached_frame_query(insights.rating_history, season)
            who = st.segmented_control("Show", ["drivers", "teams"], default="drivers", key="drivers_rating_view",
                                       format_func=str.capitalize, required=True)
            show_chart(rating_chart(history, who), key="rating_chart")
            st.caption(
                "Elo ratings going into each race, as the prediction models saw them. Every race counts as "
                "duels between all finishers: beating a higher-rated rival gains more than beating a lower-rated "
                "one. Driver ratings come from finishing positions, team ratings from each team's best car; "
                "ratings drift back toward the average over each winter. A team's second driver is dotted. "
                "Click a name in the legend to hide its line, double-click to show it alone.")
            with st.expander("Ratings as a table"):
                show_table(history, f"ratings_{season}.csv",
                           columns=["race", "code", "driver", "team_name", "drv_elo", "team_elo"],
                           column_config={"team_name": "team",
                                          "drv_elo": st.column_config.NumberColumn("driver Elo", format="%.0f"),
                                          "team_elo": st.column_config.NumberColumn("team Elo", format="%.0f")})
        except Exception as exc:
            friendly_error(exc, "compute the ratings")

with form_tab:
    try:
        form = cached_query(insights.recent_form, season, 5)
        if form.table.empty:
            st.info(f"No race results for {season}.")
        else:
            st.caption(f"Finishing positions in the last {len(form.races)} races of {season} (DNF = retired, "
                       "DNS = did not start, DSQ = disqualified, NC = not classified; empty = did not take "
                       "part). Points over those races, sprints included.")
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
