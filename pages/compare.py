"""Head to head: any two drivers of a season side by side, shareable by link
(`?season=2025&a=norris&b=piastri`)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from f1core.names import plural
from f1core.views import compare
from f1core.views.insights import result_label, seasons_with_results
from f1core.views.terms import RESULT_MARKS
from pages._resources import cached_frame_query, cached_query
from pages._style import show_chart, style_figure, team_color
from pages._widgets import LinkChoices, escape_markdown, friendly_error, require_data, show_table

P = "compare_"
RATING_LABELS = {"strength": "Strength (car + driver)", "driver_rating": "Driver", "car_rating": "Car"}

st.title("Head to head")
st.caption("Two drivers side by side: points through the season, who was ahead in every race and qualifying "
           "both took part in, their duel as teammates, and their ratings after each race.")
require_data()

seasons = cached_query(seasons_with_results)
link = LinkChoices()
season = link.get("season", seasons, int) or seasons[0]
season = st.selectbox("Season", seasons, index=seasons.index(season), key=P + f"season_{season}")
field = cached_query(compare.drivers_of_season, season)
refs = list(field["driver_ref"])
label = dict(zip(field["driver_ref"], field["code"] + " · " + field["driver_name"]))
a_default = link.get("a", refs) or refs[0]
b_default = link.get("b", [r for r in refs if r != a_default]) or next(r for r in refs if r != a_default)
col_a, col_b = st.columns(2)
a = col_a.selectbox("Driver", refs, index=refs.index(a_default), format_func=label.get, key=P + f"a_{season}")
others = [r for r in refs if r != a]
b = col_b.selectbox("against", others, index=others.index(b_default) if b_default in others else 0,
                    format_func=label.get, key=P + f"b_{season}")
link.rewrite({"season": str(season), "a": a, "b": b})
link.warn()

try:
    c = cached_query(compare.compare, season, a, b)
except Exception as exc:
    friendly_error(exc, "compare the two drivers")
    st.stop()

da, db = c.drivers.iloc[0], c.drivers.iloc[1]
s = c.summary
colour = {a: team_color(da["constructor_ref"]), b: team_color(db["constructor_ref"])}
if colour[a] == colour[b]:
    colour[b] = "#E8EAED"  # teammates: the second in white so the lines can be told apart

with st.container(horizontal=True, wrap=True, gap="small"):
    for title, left, right, note in (
        ("Points", f"{s['a_points']:g}", f"{s['b_points']:g}", "races and sprints"
         if (s["a_points"], s["b_points"]) == (s["a_scored"], s["b_scored"])
         else f"in the championship, which counted only the best results; scored {s['a_scored']:g} – "
              f"{s['b_scored']:g}"),
        ("Ahead at the flag", s["a_ahead"], s["b_ahead"], f"of {s['races_both']} races both started"),
        ("Ahead in qualifying", s["a_quali_ahead"], s["b_quali_ahead"], f"of {s['quali_both']} sessions"),
    ):
        with st.container(border=True, width="stretch", gap="xxsmall"):
            st.caption(title)
            st.subheader(f"{da['code']} {left} – {right} {db['code']}", anchor=False)
            st.caption(note)
if c.teammates:
    st.markdown(f":material/groups: **Teammates** in {plural(s['teammate_races'], 'race')}: {da['code']} finished "
                f"ahead {plural(s['a_ahead_as_teammates'], 'time')}, {db['code']} "
                f"{plural(s['b_ahead_as_teammates'], 'time')} (both classified or not, by finishing order).")

round_tick = 1 if c.points["round"].max() <= 12 else 2  # every round labelled while they fit
fig = go.Figure()
for ref, row in ((a, da), (b, db)):
    pts = c.points[c.points["driver_ref"] == ref]
    fig.add_trace(go.Scatter(x=pts["round"], y=pts["cumulative"], mode="lines+markers", name=row["code"],
                             line=dict(color=colour[ref], width=3),
                             hovertemplate=f"{row['code']} after round %{{x}}: %{{y:g}} points<extra></extra>"))
fig.update_xaxes(title="after round", dtick=round_tick)
fig.update_yaxes(title="points", rangemode="tozero")
st.markdown("**Points through the season**")
show_chart(style_figure(fig, height=340), key=P + "points")

try:
    ratings = cached_frame_query(compare.ratings, season, (a, b))
except Exception as exc:
    friendly_error(exc, "read the ratings")
    ratings = pd.DataFrame()
if not ratings.empty:
    which = st.segmented_control("Rating", list(RATING_LABELS), default="strength", required=True,
                                 format_func=RATING_LABELS.get, key=P + "rating")
    rf = go.Figure()
    for ref, row in ((a, da), (b, db)):
        r = ratings[ratings["driver_ref"] == ref]
        rf.add_trace(go.Scatter(x=r["round"], y=r[which], mode="lines+markers", name=row["code"],
                                line=dict(color=colour[ref], width=3),
                                hovertemplate=f"{row['code']} after round %{{x}}: %{{y:.1f}}<extra></extra>"))
    rf.update_xaxes(title="after round", dtick=round_tick)
    rf.update_yaxes(title=RATING_LABELS[which])
    st.markdown("**Ratings after each race**")
    st.caption("The car from its qualifying and race pace, the driver from how he compares with his teammates "
               "over his whole career (recent races count a little more); points on one scale, 0 = the field's "
               "average.")
    show_chart(style_figure(rf, height=320), key=P + "ratings")
    try:
        duels = cached_query(compare.earlier_duels, season, a, b)
    except Exception as exc:
        friendly_error(exc, "read their earlier duels")
        duels = pd.DataFrame()
    if not duels.empty:  # why this season's duel moves the driver ratings only so far
        seasons = "; ".join(
            f"{d.season} ({escape_markdown(d.team)}): {da['code']} {d.a_ahead} – {d.races - d.a_ahead} {db['code']} "
            f"at the flag, {d.a_quali_ahead} – {d.sessions - d.a_quali_ahead} in qualifying"
            for d in duels.itertuples())
        st.markdown(f":material/history: **As teammates before {season}**: {seasons}. The driver ratings carry "
                    f"these duels into {season}, so a few races of it move them only so far.")

st.markdown("**Race by race**")
st.caption(f"{RESULT_MARKS}; grid slots are the qualifying positions, {da['code']} first.")
table = c.races.assign(
    a=c.races["a_position_text"].map(result_label), b=c.races["b_position_text"].map(result_label),
    quali=[f"{int(x)} – {int(y)}" if pd.notna(x) and pd.notna(y) else "—"
           for x, y in zip(c.races["a_quali"], c.races["b_quali"])])
show_table(table, f"head_to_head_{season}_{a}_{b}.csv", columns=["round", "race", "a", "b", "quali"],
           column_config={"round": st.column_config.NumberColumn("rd", format="%d", width=44),
                          "a": st.column_config.TextColumn(da["code"], width="small"),
                          "b": st.column_config.TextColumn(db["code"], width="small"),
                          "quali": st.column_config.TextColumn("grid slots", help="Qualifying positions")},
           height="content")
